// Progressive enhancement only: every page works without this file.
// Focus the main region after in-page skip navigation so keyboard users land there.
document.addEventListener("DOMContentLoaded", function () {
  var skip = document.querySelector(".skip");
  if (skip) {
    skip.addEventListener("click", function () {
      var main = document.getElementById("main");
      if (main) { main.focus(); }
    });
  }
});
