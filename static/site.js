// Every page: choosing a file in the header's "Search by image" searches with it at once.
(function () {
  var form = document.querySelector(".header-search");
  if (!form) return;
  form.querySelector("input[type=file]").addEventListener("change", function (event) {
    if (event.target.files.length) form.submit();
  });
})();
