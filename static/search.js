// Search page: dropping an image file on the drop zone searches with it at once.
(function () {
  var form = document.getElementById("search-form");
  if (!form) return;
  var zone = form.querySelector(".drop-zone");
  var input = form.querySelector("input[type=file]");
  ["dragenter", "dragover"].forEach(function (name) {
    zone.addEventListener(name, function (event) {
      event.preventDefault();
      zone.classList.add("dragging");
    });
  });
  ["dragleave", "drop"].forEach(function (name) {
    zone.addEventListener(name, function () { zone.classList.remove("dragging"); });
  });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    if (!event.dataTransfer.files.length) return;
    input.files = event.dataTransfer.files;
    form.submit();
  });
})();
