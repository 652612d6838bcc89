// Bring the cited span into view and give it focus, so keyboard and screen-reader users land on it too.
"use strict";
(function () {
  var cited = document.getElementById("cited");
  if (cited) {
    cited.scrollIntoView({ block: "center" });
    cited.focus({ preventScroll: true });
  }
})();
