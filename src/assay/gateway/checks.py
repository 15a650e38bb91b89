"""``assay doctor`` findings of the gateway: plain-HTTP links and the serving setup."""

from __future__ import annotations

from urllib.parse import urlsplit

from assay.config import Settings
from assay.doctor import Finding, register_check
from assay.gateway.upstream import is_loopback_url

__all__ = ["transport_security"]


def _link(name: str, url: str, secure_schemes: tuple[str, ...]) -> Finding:
    scheme = urlsplit(url).scheme
    if scheme in secure_schemes:
        return Finding(f"link {name}", "ok", f"{scheme}://{urlsplit(url).hostname} (encrypted)")
    if is_loopback_url(url):
        return Finding(f"link {name}", "ok", f"plain {scheme} on loopback ({urlsplit(url).hostname})")
    return Finding(
        f"link {name}",
        "warn",
        f"plain {scheme} to {urlsplit(url).hostname}: traffic is not encrypted",
        f"Use {secure_schemes[0]}:// for {name}.",
    )


@register_check
def transport_security(settings: Settings) -> list[Finding]:
    """Every network link Assay makes or serves, and whether it is encrypted."""
    found = [_link(f"upstream {u.name}", u.base_url, ("https",)) for u in settings.upstreams]
    if settings.upstream:
        found.append(_link("upstream", settings.upstream, ("https",)))
    if settings.redis_url:
        found.append(_link("redis", settings.redis_url, ("rediss",)))
    listening = f"http://{settings.host}/"
    if settings.tls_cert and settings.tls_key:
        found.append(Finding("serve TLS", "ok", "assay serve terminates TLS 1.2+"))
    elif not is_loopback_url(listening):
        found.append(
            Finding(
                "serve TLS",
                "warn",
                f"assay serve listens on {settings.host} with plain HTTP",
                "Pass --tls-cert and --tls-key, or put a TLS proxy in front.",
            )
        )
    if not settings.upstreams and not settings.upstream:
        note = "the built-in assay-demo model" if settings.demo_model else "nothing (requests get 404)"
        found.append(Finding("upstreams", "warn", f"no upstream configured: serving {note}", "Set ASSAY_UPSTREAM or [[upstreams]] in assay.toml."))
    return found
