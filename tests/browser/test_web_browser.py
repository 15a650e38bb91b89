"""The dashboard in the system Chromium, against a real `assay serve` process.

Covers the first run (one-time link, password, TOTP enrolment), signing in with TOTP, an
admin inviting an auditor, the auditor downloading an entry's .tlog-proof and being refused a
transcript, the trust page off and on, and an admin rotating a tenant key (once the key store
is part of the build). Screenshots of the main pages are taken on every run; they replace
the ones in docs/screenshots/ only when UPDATE_SCREENSHOTS=1 is set, so a test run leaves the
tree clean.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from assay.gateway import DEMO_MODEL
from assay.ledger.merkle import leaf_hash
from assay.ledger.note import Verifier
from assay.ledger.proof import parse_tlog_proof, verify_tlog_proof
from tests.helpers import run_cli, running_server
from tests.web_support import PASSWORD

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
SHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "assay-screenshots"
)


class Authenticator:
    """A TOTP app that never offers the same 30 s step twice (the server refuses replays)."""

    def __init__(self, secret: str) -> None:
        self.totp = pyotp.TOTP(secret)
        self.last = -10**9

    def code(self) -> str:
        step = max(int(time.time()) // 30 - 1, self.last + 1)
        while step > int(time.time()) // 30 + 1:  # at most one step ahead of real time
            time.sleep(1)
        self.last = step
        return self.totp.at(step * 30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        from tests.servers import missing

        missing("chromium")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A served instance and the first-run link it printed."""
    data = tmp_path_factory.mktemp("web") / "data"
    assert run_cli("init", "--data-dir", str(data)).exit_code == 0
    with running_server(data) as base:
        port = base.rsplit(":", 1)[1]
        log = data.parent / f"serve-{port}.log"
        link = None
        for _ in range(100):
            found = re.search(r"(http://\S+/setup/[A-Za-z0-9_-]+)", log.read_text())
            if found:
                link = found.group(1)
                break
            time.sleep(0.1)
        assert link, log.read_text()
        yield base, link


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def complete_setup(page: Page, link: str) -> Authenticator:
    page.goto(link)
    page.get_by_label("New password").fill(PASSWORD)
    page.get_by_label("Repeat it").fill(PASSWORD)
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_role("heading", name="Add an authenticator")).to_be_visible()
    secret = page.locator("#totp-secret").get_attribute("data-secret")
    assert secret
    app = Authenticator(secret)
    page.get_by_label("Code shown by the app").fill(app.code())
    page.get_by_role("button", name="Confirm and continue").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    return app


def sign_in(page: Page, base: str, email: str, app: Authenticator) -> None:
    page.goto(f"{base}/")
    expect(page).to_have_url(re.compile(r"/login"))
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Six-digit code").fill(app.code())
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()


@pytest.fixture(scope="module")
def admin(browser: Browser, server: tuple[str, str]) -> Iterator[tuple[Page, Authenticator]]:
    _base, link = server
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    app = complete_setup(page, link)
    yield page, app
    context.close()


def test_first_admin_signs_in_again_with_totp(browser: Browser, server: tuple[str, str],
                                              admin: tuple[Page, Authenticator]) -> None:
    base, link = server
    page, app = admin
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login"))
    shot(page, "sign-in")
    sign_in(page, base, "admin@localhost", app)
    # The one-time link is spent.
    other = browser.new_page()
    other.goto(link)
    expect(other.get_by_role("heading", name="This link does not work")).to_be_visible()
    other.close()


def test_keyboard_reaches_the_skip_link_first(admin: tuple[Page, Authenticator], server: tuple[str, str]) -> None:
    page, _ = admin
    page.goto(f"{server[0]}/controls")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    for label in ("Category", "Criterion", "Status"):
        expect(page.get_by_label(label)).to_be_visible()
    shot(page, "controls")


def test_pages_render_for_the_admin(admin: tuple[Page, Authenticator], server: tuple[str, str]) -> None:
    page, _ = admin
    page.goto(f"{server[0]}/controls")
    page.get_by_role("button", name="Run all checks now").click()
    expect(page.get_by_role("heading", name="Controls")).to_be_visible()
    page.goto(f"{server[0]}/")
    expect(page.get_by_role("heading", name="Readiness by trust category")).to_contain_text("overall")
    shot(page, "overview")
    page.goto(f"{server[0]}/evidence")
    page.get_by_label("Control").select_option("AS-ACC-04")
    page.get_by_label("Effective date (when it was true)").fill("2026-01-15")
    page.get_by_label("Owner (a role, such as Security lead)").fill("Security lead")
    page.get_by_label("File").set_input_files(
        files=[{"name": "q1-access-review.csv", "mimeType": "text/csv", "buffer": b"user,decision\nu1,keep\n"}]
    )
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#done")).to_contain_text("q1-access-review.csv")
    for path, heading, name in (
        ("/evidence", "Evidence", "evidence"),
        ("/models", "Models and changes", "models"),
        ("/export", "Audit export", "export"),
    ):
        page.goto(server[0] + path)
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        shot(page, name)


def test_ledger_verifies_in_the_page(admin: tuple[Page, Authenticator], server: tuple[str, str]) -> None:
    page, _ = admin
    page.goto(f"{server[0]}/ledger")
    page.get_by_role("button", name="Verify the whole log now").click()
    expect(page.locator("#verification")).to_contain_text("The log verifies")
    shot(page, "ledger")


def test_trust_page_is_off_then_on(browser: Browser, admin: tuple[Page, Authenticator],
                                   server: tuple[str, str]) -> None:
    base = server[0]
    visitor = browser.new_page()
    assert visitor.goto(f"{base}/trust").status == 404  # type: ignore[union-attr]
    page, _ = admin
    page.goto(f"{base}/settings/trust")
    page.get_by_label("Publish the trust page").check()
    page.get_by_label("Company name shown").fill("Example Health")
    page.get_by_label("Privacy").check()
    page.get_by_label("Confidentiality").check()
    page.get_by_label(re.compile("Subprocessors and LLM providers")).fill(
        "OpenAI | LLM provider | zero data retention, no training\n"
        "Amazon Web Services | hosting | EU region, encrypted at rest"
    )
    page.get_by_role("button", name="Save").click()
    shot(page, "trust-settings")
    response = visitor.goto(f"{base}/trust")
    assert response is not None and response.status == 200
    expect(visitor.get_by_role("heading", name="Example Health trust page")).to_be_visible()
    expect(visitor.get_by_text("zero data retention, no training")).to_be_visible()
    expect(visitor.get_by_label("Latest signed checkpoint")).to_contain_text("assay.ledger/")
    assert "admin@localhost" not in visitor.content()
    shot(visitor, "trust")
    visitor.close()


def test_auditor_downloads_a_proof_and_is_refused_a_transcript(
    browser: Browser, admin: tuple[Page, Authenticator], server: tuple[str, str], tmp_path: Path
) -> None:
    base = server[0]
    page, _ = admin
    page.goto(f"{base}/users")
    page.get_by_label("E-mail", exact=True).fill("auditor@example.com")
    page.get_by_label("Role", exact=True).select_option("auditor")
    page.get_by_role("button", name="Create and get link").click()
    link = page.locator("#setup-link").inner_text().strip()
    shot(page, "users")

    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    auditor = context.new_page()
    complete_setup(auditor, link)
    nav = auditor.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Ledger")).to_be_visible()
    expect(nav.get_by_role("link", name="Users")).to_have_count(0)
    expect(nav.get_by_role("link", name="Tenants & keys")).to_have_count(0)

    auditor.goto(f"{base}/ledger")
    vkey = auditor.locator("#vkey").inner_text().strip()
    auditor.get_by_label("Entry index").fill("0")
    auditor.get_by_role("button", name="Show entry").click()
    expect(auditor.get_by_role("heading", name="Ledger entry 0")).to_be_visible()
    shot(auditor, "ledger-entry")
    with auditor.expect_download() as waiting:
        auditor.locator("#download-proof").click()
    download = waiting.value
    assert download.suggested_filename == "assay-entry-0.tlog-proof"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    _check_proof(saved.read_text(), vkey)

    refused = auditor.goto(f"{base}/transcripts/t-1")
    assert refused is not None and refused.status == 403
    expect(auditor.get_by_role("heading", name="Not allowed")).to_be_visible()
    assert auditor.goto(f"{base}/users").status == 403  # type: ignore[union-attr]
    context.close()


def _check_proof(text: str, vkey: str) -> None:
    """Check the downloaded proof the way an auditor's tool would (tlog-proof@v1)."""
    parsed = parse_tlog_proof(text)
    assert parsed.extra is not None and parsed.index == 0
    checkpoint = verify_tlog_proof(text, leaf_hash(parsed.extra), Verifier.from_vkey(vkey))
    assert checkpoint.size >= 1


def test_admin_rotates_a_tenant_key(admin: tuple[Page, Authenticator], server: tuple[str, str]) -> None:
    page, _ = admin
    page.goto(f"{server[0]}/tenants")
    page.get_by_label("Name", exact=True).fill("acme")
    page.get_by_role("button", name="Create tenant").click()
    expect(page.locator("#done")).to_contain_text("Tenant acme created")
    page.get_by_role("link", name="Rotate key of acme").click()
    expect(page.get_by_role("heading", name="Rotate the key of acme?")).to_be_visible()
    page.get_by_role("button", name="Rotate key").click()
    expect(page.locator("#done")).to_contain_text("version 2 encrypts from now on")
    shot(page, "tenants")
    # Erasing needs the name typed again; a wrong name erases nothing.
    page.get_by_role("link", name="Erase acme").click()
    page.get_by_label("Type the tenant name to confirm").fill("acne")
    page.get_by_role("button", name="Erase for ever").click()
    expect(page.get_by_role("alert")).to_contain_text("Nothing erased")


def test_gateway_traffic_shows_on_the_gateway_page(admin: tuple[Page, Authenticator],
                                                   server: tuple[str, str]) -> None:
    """A key made on the tenant page, real requests through the gateway, figures on the page."""
    base = server[0]
    page, _ = admin
    page.goto(f"{base}/tenants")  # a tenant of its own: the test does not depend on the others
    page.get_by_label("Name", exact=True).fill("globex")
    page.get_by_role("button", name="Create tenant").click()
    expect(page.locator("#done")).to_contain_text("Tenant globex created")
    page.goto(f"{base}/tenants/globex/access")
    page.get_by_label("Key name (what uses it)").fill("support bot")
    page.get_by_role("button", name="Create API key").click()
    secret = page.locator("#new-secret").inner_text().strip()
    shot(page, "tenant-access")
    for text in ("Write to jane.doe@example.com please", "Call +44 20 7946 0958 today", "Hello"):
        answer = httpx.post(
            f"{base}/v1/chat/completions", headers={"Authorization": f"Bearer {secret}"},
            json={"model": DEMO_MODEL, "messages": [{"role": "user", "content": text}]}, timeout=30,
        )
        assert answer.status_code == 200, answer.text
    page.goto(f"{base}/gateway")
    expect(page.locator(".tile").first).to_contain_text("3")
    shot(page, "gateway")
