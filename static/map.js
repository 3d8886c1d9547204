// The map page: every image as a point on one canvas; thumbnails when zoomed in far enough.
//
// Points live in typed arrays (no object per point) and a uniform grid over the unit square
// finds the visible ones and the one under the pointer. Zoomed out, the dots are drawn one
// path per colour; zoomed in (few visible points, room for a picture each), the visible
// points are drawn as thumbnails, whose names and URLs are fetched for those points only.
(function () {
  "use strict";
  var canvas = document.getElementById("map");
  if (!canvas) return;
  var tip = document.getElementById("map-tip");
  var context = canvas.getContext("2d");
  var PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                 "#e377c2", "#17becf", "#bcbd22", "#393b79", "#ad494a", "#637939"];
  var UNCLUSTERED = "#888888";
  var GRID = 128;          // cells per side of the spatial grid
  var MAX_THUMBNAILS = 400;
  var THUMBNAIL_MIN = 28;  // CSS pixels: smaller than this, dots
  var THUMBNAIL_MAX = 112;
  var MAX_IMAGES = 2000;   // decoded thumbnails kept
  var HIT_PIXELS = 8;
  var FIT_MARGIN = 48;     // CSS pixels around the points when the map is fitted
  var CLICK_SLOP = 5;      // a press that moves less than this is a click, not a drag
  var DETAILS_BATCH = 500; // what /api/map/images answers at once

  var count = 0, ids, xs, ys, groups;           // one entry per point
  var byGroup, groupStart;                      // point indices sorted by colour
  var cellStart, cellPoints;                    // the grid: points of cell c
  var visible, visibleCount = 0;                // reused every frame
  var view = {scale: 1, x: 0, y: 0, fitted: 1}; // screen = view.x + world * view.scale
  var width = 0, height = 0, ratio = 1, frame = 0, bounds = [0, 0, 1, 1];
  var details = new Map(), asked = new Set(), pictures = new Map();
  var hovered = -1;

  function groupOf(cluster) {
    return cluster === null || cluster < 0 ? PALETTE.length : cluster % PALETTE.length;
  }
  function colourOf(group) { return group < PALETTE.length ? PALETTE[group] : UNCLUSTERED; }
  function cell(v) { return Math.min(GRID - 1, Math.max(0, Math.floor(v * GRID))); }

  function load(points) {
    count = points.length;
    ids = new Int32Array(count); xs = new Float32Array(count); ys = new Float32Array(count);
    groups = new Uint8Array(count); visible = new Int32Array(count);
    for (var i = 0; i < count; i++) {
      ids[i] = points[i][0]; xs[i] = points[i][1]; ys[i] = points[i][2];
      groups[i] = groupOf(points[i][3]);
    }
    bounds = [Infinity, Infinity, -Infinity, -Infinity];
    for (i = 0; i < count; i++) {
      bounds[0] = Math.min(bounds[0], xs[i]); bounds[1] = Math.min(bounds[1], ys[i]);
      bounds[2] = Math.max(bounds[2], xs[i]); bounds[3] = Math.max(bounds[3], ys[i]);
    }
    byGroup = countingSort(groups, PALETTE.length + 1);
    groupStart = byGroup.starts;
    var cells = new Int32Array(count);
    for (i = 0; i < count; i++) cells[i] = cell(ys[i]) * GRID + cell(xs[i]);
    var byCell = countingSort(cells, GRID * GRID);
    cellPoints = byCell.order; cellStart = byCell.starts;
  }

  // Return {order, starts}: point indices ordered by key, and where each key's run starts.
  function countingSort(keys, size) {
    var starts = new Int32Array(size + 1), order = new Int32Array(keys.length), i;
    for (i = 0; i < keys.length; i++) starts[keys[i] + 1]++;
    for (i = 0; i < size; i++) starts[i + 1] += starts[i];
    var next = starts.slice(0, size);
    for (i = 0; i < keys.length; i++) order[next[keys[i]]++] = i;
    return {order: order, starts: starts};
  }

  function resize() {
    ratio = window.devicePixelRatio || 1;
    width = canvas.clientWidth; height = canvas.clientHeight;
    canvas.width = Math.round(width * ratio); canvas.height = Math.round(height * ratio);
    // Fit the points' bounding box (the map fills [0, 1] along its longer side only).
    var spanX = bounds[2] - bounds[0], spanY = bounds[3] - bounds[1];
    var room = Math.max(width - 2 * FIT_MARGIN, width / 2), roomY = Math.max(height - 2 * FIT_MARGIN, height / 2);
    var scale = Math.min(spanX > 0 ? room / spanX : Infinity, spanY > 0 ? roomY / spanY : Infinity);
    if (!isFinite(scale)) scale = 0.9 * Math.min(width, height);
    view = {scale: scale, fitted: scale, x: width / 2 - (bounds[0] + bounds[2]) / 2 * scale,
            y: height / 2 - (bounds[1] + bounds[3]) / 2 * scale};
    redraw();
  }

  // Collect the points inside the screen (plus a margin) into `visible`.
  function collectVisible(margin) {
    var x0 = cell((-margin - view.x) / view.scale), x1 = cell((width + margin - view.x) / view.scale);
    var y0 = cell((-margin - view.y) / view.scale), y1 = cell((height + margin - view.y) / view.scale);
    visibleCount = 0;
    for (var cy = y0; cy <= y1; cy++) {
      for (var c = cy * GRID + x0, last = cy * GRID + x1; c <= last; c++) {
        for (var k = cellStart[c]; k < cellStart[c + 1]; k++) visible[visibleCount++] = cellPoints[k];
      }
    }
  }

  function thumbnailSize() {
    return Math.min(THUMBNAIL_MAX, 0.5 * view.scale / Math.sqrt(Math.max(count, 1)));
  }

  function redraw() { if (!frame) frame = window.requestAnimationFrame(draw); }

  var drawTimes = [];      // the last 100 draws' milliseconds, for benchmarks
  function draw() {
    var started = performance.now();
    frame = 0;
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, width, height);
    if (!count) return;
    var size = thumbnailSize();
    collectVisible(size);
    if (size >= THUMBNAIL_MIN && visibleCount <= MAX_THUMBNAILS) drawThumbnails(size);
    else drawDots(Math.max(2, Math.min(8, size / 4)));
    if (hovered >= 0) drawRing(hovered, Math.max(size, 8));
    canvas.setAttribute("data-ready", "true");
    drawTimes.push(performance.now() - started);
    if (drawTimes.length > 100) drawTimes.shift();
  }

  // One path and one fill per colour, only the points on screen.
  function drawDots(dot) {
    var half = dot / 2;
    for (var g = 0; g < groupStart.length - 1; g++) {
      context.beginPath();
      for (var k = groupStart[g]; k < groupStart[g + 1]; k++) {
        var i = byGroup.order[k], sx = view.x + xs[i] * view.scale, sy = view.y + ys[i] * view.scale;
        if (sx < -dot || sy < -dot || sx > width + dot || sy > height + dot) continue;
        context.rect(sx - half, sy - half, dot, dot);
      }
      context.fillStyle = colourOf(g);
      context.fill();
    }
  }

  function drawThumbnails(size) {
    var missing = [], half = size / 2;
    for (var k = 0; k < visibleCount; k++) {
      var i = visible[k], sx = view.x + xs[i] * view.scale, sy = view.y + ys[i] * view.scale;
      var picture = pictureOf(ids[i]);
      context.fillStyle = colourOf(groups[i]);
      context.fillRect(sx - half - 2, sy - half - 2, size + 4, size + 4);
      if (picture && picture.complete && picture.naturalWidth) {
        drawCover(picture, sx - half, sy - half, size);
      } else if (!details.has(ids[i]) && !asked.has(ids[i])) {
        missing.push(ids[i]);
      }
    }
    if (missing.length) fetchDetails(missing);
  }

  // Draw the middle square of a picture into a square of the canvas (object-fit: cover).
  function drawCover(picture, x, y, size) {
    var side = Math.min(picture.naturalWidth, picture.naturalHeight);
    context.drawImage(picture, (picture.naturalWidth - side) / 2, (picture.naturalHeight - side) / 2,
                      side, side, x, y, size, size);
  }

  function drawRing(i, size) {
    var sx = view.x + xs[i] * view.scale, sy = view.y + ys[i] * view.scale;
    context.strokeStyle = "#000"; context.lineWidth = 2;
    context.strokeRect(sx - size / 2 - 3, sy - size / 2 - 3, size + 6, size + 6);
  }

  function pictureOf(id) {
    var picture = pictures.get(id), about = details.get(id);
    if (picture || !about) return picture;
    if (pictures.size >= MAX_IMAGES) pictures.delete(pictures.keys().next().value);
    picture = new Image();
    picture.onload = redraw;
    picture.src = about.thumbnail_url;
    pictures.set(id, picture);
    return picture;
  }

  function fetchDetails(wanted) {
    for (var start = 0; start < wanted.length; start += DETAILS_BATCH) {
      var batch = wanted.slice(start, start + DETAILS_BATCH);
      batch.forEach(function (id) { asked.add(id); });
      fetch(canvas.dataset.details + "?ids=" + batch.join(","))
        .then(function (response) { return response.json(); })
        .then(function (body) {
          body.images.forEach(function (image) { details.set(image.id, image); });
          redraw(); showTip();
        });
    }
  }

  // Return the index of the point under (sx, sy) in CSS pixels of the canvas, or -1.
  function pointAt(sx, sy) {
    if (!count) return -1;
    var size = thumbnailSize(), reach = HIT_PIXELS;
    collectVisible(size);
    if (size >= THUMBNAIL_MIN && visibleCount <= MAX_THUMBNAILS) reach = Math.max(reach, size / 2);
    var wx = (sx - view.x) / view.scale, wy = (sy - view.y) / view.scale, r = reach / view.scale;
    var best = -1, bestDistance = Infinity;
    for (var cy = cell(wy - r); cy <= cell(wy + r); cy++) {
      for (var cx = cell(wx - r); cx <= cell(wx + r); cx++) {
        var c = cy * GRID + cx;
        for (var k = cellStart[c]; k < cellStart[c + 1]; k++) {
          var i = cellPoints[k];
          var dx = Math.abs(view.x + xs[i] * view.scale - sx), dy = Math.abs(view.y + ys[i] * view.scale - sy);
          if (dx > reach || dy > reach) continue;
          var distance = dx * dx + dy * dy;
          if (distance < bestDistance) { best = i; bestDistance = distance; }
        }
      }
    }
    return best;
  }

  var tipAt = {x: 0, y: 0};
  function showTip() {
    if (hovered < 0) { tip.hidden = true; return; }
    var about = details.get(ids[hovered]);
    if (!about) {
      if (!asked.has(ids[hovered])) fetchDetails([ids[hovered]]);
      return;
    }
    tip.textContent = about.path;
    tip.hidden = false;
    tip.style.left = Math.min(tipAt.x + 12, width - tip.offsetWidth) + "px";
    tip.style.top = (tipAt.y + 12) + "px";
  }

  function zoomAt(sx, sy, factor) {
    var scale = Math.min(view.fitted * 4000, Math.max(view.fitted * 0.5, view.scale * factor));
    view.x = sx - (sx - view.x) * scale / view.scale;
    view.y = sy - (sy - view.y) * scale / view.scale;
    view.scale = scale;
    redraw();
  }

  function local(event) {
    var box = canvas.getBoundingClientRect();
    return {x: event.clientX - box.left, y: event.clientY - box.top};
  }

  canvas.addEventListener("wheel", function (event) {
    event.preventDefault();
    var at = local(event);
    zoomAt(at.x, at.y, Math.exp(-event.deltaY * (event.deltaMode === 1 ? 0.05 : 0.0015)));
  }, {passive: false});

  // Pointers: one drags, two pinch; a press that barely moved is a click.
  var pointers = new Map(), moved = 0, pinch = 0;
  canvas.addEventListener("pointerdown", function (event) {
    canvas.setPointerCapture(event.pointerId);
    pointers.set(event.pointerId, local(event));
    if (pointers.size === 1) moved = 0;
    pinch = pointers.size === 2 ? spread() : 0;
    canvas.classList.add("dragging");
  });
  canvas.addEventListener("pointermove", function (event) {
    var at = local(event), last = pointers.get(event.pointerId);
    if (!last) {
      var under = pointAt(at.x, at.y);
      if (under !== hovered) { hovered = under; redraw(); }
      tipAt = at; showTip();
      return;
    }
    pointers.set(event.pointerId, at);
    moved += Math.abs(at.x - last.x) + Math.abs(at.y - last.y);
    if (pointers.size === 2) {
      var now = spread(), middle = centre();
      if (pinch) zoomAt(middle.x, middle.y, now / pinch);
      pinch = now;
      view.x += (at.x - last.x) / 2; view.y += (at.y - last.y) / 2;
    } else {
      view.x += at.x - last.x; view.y += at.y - last.y;
    }
    redraw();
  });
  function release(event) {
    var at = local(event), wasClick = pointers.size === 1 && moved < CLICK_SLOP;
    pointers.delete(event.pointerId);
    pinch = pointers.size === 2 ? spread() : 0;
    if (!pointers.size) canvas.classList.remove("dragging");
    if (wasClick && event.type === "pointerup") {
      var i = pointAt(at.x, at.y);
      if (i >= 0) window.location.href = canvas.dataset.pageBefore + ids[i] + canvas.dataset.pageAfter;
    }
  }
  canvas.addEventListener("pointerup", release);
  canvas.addEventListener("pointercancel", release);
  canvas.addEventListener("pointerleave", function () {
    if (!pointers.size && hovered >= 0) { hovered = -1; tip.hidden = true; redraw(); }
  });

  function spread() {
    var both = Array.from(pointers.values());
    return Math.hypot(both[0].x - both[1].x, both[0].y - both[1].y) || 1;
  }
  function centre() {
    var both = Array.from(pointers.values());
    return {x: (both[0].x + both[1].x) / 2, y: (both[0].y + both[1].y) / 2};
  }

  // For tests and scripts: where a point is drawn now, in the window's CSS pixels.
  window.similarMap = {
    screenPosition: function (id) {
      for (var i = 0; i < count; i++) {
        if (ids[i] === id) {
          var box = canvas.getBoundingClientRect();
          return [box.left + view.x + xs[i] * view.scale, box.top + view.y + ys[i] * view.scale];
        }
      }
      return null;
    },
    ids: function () { return Array.from(ids || []); },
    drawTimes: function () { return drawTimes.slice(); }
  };

  window.addEventListener("resize", resize);
  fetch(canvas.dataset.points)
    .then(function (response) { return response.json(); })
    .then(function (body) { load(body.points); resize(); });
})();
