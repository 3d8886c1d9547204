// The map page's controls: mouse, touch and keyboard on the canvas (static/map.js draws),
// the scatter/grid toggle, and selecting an area to list and download its images.
(function () {
  "use strict";
  var map = window.similarMap;
  if (!map) return;
  var canvas = map.canvas;
  var CLICK_SLOP = 5;      // a press that moves less than this is a click, not a drag
  var PAN_STEP = 0.1;      // of the canvas's side, per arrow key
  var ZOOM_STEP = 1.5;     // per +/- key or button
  var LISTED = 60;         // images the selection lists on the page (the downloads have all)
  var frame = canvas.parentNode, box = document.getElementById("map-box");
  var panel = document.getElementById("map-selection");
  var selecting = false;

  function local(event) {
    var rect = canvas.getBoundingClientRect();
    return {x: event.clientX - rect.left, y: event.clientY - rect.top};
  }

  function pan(dx, dy) {
    var view = map.view();
    view.x += dx; view.y += dy;
    map.redraw();
  }

  canvas.addEventListener("wheel", function (event) {
    event.preventDefault();
    var at = local(event);
    map.zoomAt(at.x, at.y, Math.exp(-event.deltaY * (event.deltaMode === 1 ? 0.05 : 0.0015)));
  }, {passive: false});

  // Pointers: one drags (or draws the selection), two pinch; a press that barely moved is a
  // click (a tap on a phone): it opens the picture's image, or zooms into a cell of many.
  var pointers = new Map(), moved = 0, pinch = 0, anchor = null;
  canvas.addEventListener("pointerdown", function (event) {
    canvas.setPointerCapture(event.pointerId);
    pointers.set(event.pointerId, local(event));
    if (pointers.size === 1) {
      moved = 0;
      anchor = selecting || event.shiftKey ? local(event) : null;
    } else {
      anchor = null; hideBox();
    }
    pinch = pointers.size === 2 ? spread() : 0;
    canvas.classList.add("dragging");
  });
  canvas.addEventListener("pointermove", function (event) {
    var at = local(event), last = pointers.get(event.pointerId);
    if (!last) {
      map.hover(map.pictureAt(at.x, at.y), at);
      return;
    }
    pointers.set(event.pointerId, at);
    moved += Math.abs(at.x - last.x) + Math.abs(at.y - last.y);
    if (anchor) return showBox(anchor, at);
    if (pointers.size === 2) {
      var now = spread(), middle = centre();
      if (pinch) map.zoomAt(middle.x, middle.y, now / pinch);
      pinch = now;
      pan((at.x - last.x) / 2, (at.y - last.y) / 2);
    } else {
      pan(at.x - last.x, at.y - last.y);
    }
  });
  function release(event) {
    var at = local(event), wasClick = pointers.size === 1 && moved < CLICK_SLOP;
    pointers.delete(event.pointerId);
    pinch = pointers.size === 2 ? spread() : 0;
    if (!pointers.size) canvas.classList.remove("dragging");
    if (event.type !== "pointerup") return;
    if (anchor && !wasClick) select(anchor, at);
    anchor = null; hideBox();
    if (wasClick) {
      var picture = map.pictureAt(at.x, at.y);
      if (picture) map.choose(picture);
    }
  }
  canvas.addEventListener("pointerup", release);
  canvas.addEventListener("pointercancel", release);
  canvas.addEventListener("pointerleave", function () {
    if (!pointers.size) map.hover(null, {x: 0, y: 0});
  });

  function spread() {
    var both = Array.from(pointers.values());
    return Math.hypot(both[0].x - both[1].x, both[0].y - both[1].y) || 1;
  }
  function centre() {
    var both = Array.from(pointers.values());
    return {x: (both[0].x + both[1].x) / 2, y: (both[0].y + both[1].y) / 2};
  }

  // Keyboard: arrows pan, + and - zoom about the middle, Enter opens the middle picture
  // (ringed in blue while the canvas has the focus).
  canvas.addEventListener("keydown", function (event) {
    var size = map.size(), key = event.key;
    var moves = {ArrowLeft: [1, 0], ArrowRight: [-1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1]};
    if (moves[key]) pan(moves[key][0] * PAN_STEP * size[0], moves[key][1] * PAN_STEP * size[1]);
    else if (key === "+" || key === "=") map.zoomAt(size[0] / 2, size[1] / 2, ZOOM_STEP);
    else if (key === "-" || key === "_") map.zoomAt(size[0] / 2, size[1] / 2, 1 / ZOOM_STEP);
    else if (key === "Enter" && map.centreMost()) map.choose(Object.assign({}, map.centreMost(), {count: 1}));
    else return;
    event.preventDefault();
  });
  canvas.addEventListener("focus", map.redraw);
  canvas.addEventListener("blur", map.redraw);

  function button(id, handler) {
    var element = document.getElementById(id);
    if (element) element.addEventListener("click", handler);
    return element;
  }
  button("map-zoom-in", function () { var s = map.size(); map.zoomAt(s[0] / 2, s[1] / 2, ZOOM_STEP); });
  button("map-zoom-out", function () { var s = map.size(); map.zoomAt(s[0] / 2, s[1] / 2, 1 / ZOOM_STEP); });
  var selectButton = button("map-select", function () {
    selecting = !selecting;
    selectButton.setAttribute("aria-pressed", String(selecting));
    canvas.classList.toggle("selecting", selecting);
  });
  document.querySelectorAll("[data-layout]").forEach(function (choice) {
    choice.addEventListener("click", function () {
      map.useLayout(choice.dataset.layout);
      // The address says the view, so a link or a reload opens the same one.
      window.history.replaceState(null, "", map.layoutName() === "grid" ? "#grid" : window.location.pathname);
      document.querySelectorAll("[data-layout]").forEach(function (other) {
        other.setAttribute("aria-pressed", String(other === choice));
      });
    });
  });

  function showBox(a, b) {
    box.hidden = false;
    box.style.left = (canvas.offsetLeft + Math.min(a.x, b.x)) + "px";
    box.style.top = (canvas.offsetTop + Math.min(a.y, b.y)) + "px";
    box.style.width = Math.abs(a.x - b.x) + "px";
    box.style.height = Math.abs(a.y - b.y) + "px";
  }
  function hideBox() { box.hidden = true; }

  // Ask the site for the images inside the rectangle (in the map's [0, 1] coordinates).
  function select(a, b) {
    var view = map.view();
    var world = [Math.min(a.x, b.x), Math.min(a.y, b.y), Math.max(a.x, b.x), Math.max(a.y, b.y)]
      .map(function (v, k) { return ((v - (k % 2 ? view.y : view.x)) / view.scale).toFixed(5); });
    var query = "?layout=" + map.layoutName() + "&box=" + world.join(",");
    var url = panel.dataset.selection;
    fetch(url + query).then(function (response) { return response.json(); }).then(function (body) {
      panel.hidden = false;
      panel.querySelector(".selection-count").textContent =
        body.count + (body.count === 1 ? " image selected" : " images selected");
      panel.querySelector(".selection-csv").href = url + query + "&format=csv";
      panel.querySelector(".selection-json").href = url + query + "&format=json";
      var list = panel.querySelector("ul");
      list.textContent = "";
      body.images.slice(0, LISTED).forEach(function (image) {
        var item = document.createElement("li"), link = document.createElement("a");
        var picture = document.createElement("img");
        link.href = image.page_url; picture.src = image.thumbnail_url; picture.alt = image.path;
        picture.loading = "lazy";
        link.appendChild(picture); item.appendChild(link); list.appendChild(item);
      });
      panel.querySelector(".selection-more").hidden = body.count <= LISTED;
      window.dispatchEvent(new Event("similarmap:selected"));
    });
  }
})();
