// The map page: the collection as pictures on one canvas, at every zoom.
//
// At zoom level z the map is cut into 2^z x 2^z cells, each between TILE and 2 TILE CSS
// pixels wide; every occupied cell shows one picture (the image nearest its centre, chosen by
// the job: its "level" is the coarsest z at which it stands for its cell) and how many
// images the cell holds. Zooming in splits cells and reveals the rest. The small pictures come
// from the job's atlas sheets (256 to a JPEG); a picture drawn larger than an atlas cell
// loads its own thumbnail. The same drawing serves the scatter (UMAP) and the grid view.
(function () {
  "use strict";
  var canvas = document.getElementById("map");
  if (!canvas) return;
  var tip = document.getElementById("map-tip");
  var context = canvas.getContext("2d");
  var PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                 "#e377c2", "#17becf", "#bcbd22", "#393b79", "#ad494a", "#637939"];
  var TILE = 56;           // CSS pixels: the smallest side of a cell's picture 
  var Layouts = window.similarMapLayouts, cellOf = Layouts.cellOf;
  var MAX_LEVEL = Layouts.MAX_LEVEL, GRID = Layouts.GRID;
  var PREFIX_LIMIT = 20000; // more pictures at a level than this: look in view first
  var BIG_PICTURES = 400;  // at most this many own thumbnails loaded for one view
  var MAX_IMAGES = 2000;   // decoded thumbnails kept
  var FIT_MARGIN = 24;     // CSS pixels around the points when the map is fitted
  var DETAILS_BATCH = 500; // what /api/map/images answers at once

  var count = 0, ids, clusters, layouts = {}, layout, layoutName;  // layout: the one shown
  var atlas = null, sheets = [], slots = null;  // the job's atlas sheets, each point's cell
  var view = {scale: 1, x: 0, y: 0, fitted: 1}; // screen = view.x + world * view.scale
  var width = 0, height = 0, ratio = 1, frame = 0;
  var details = new Map(), asked = new Set(), pictures = new Map();
  var drawn = [];          // this frame's pictures: {i, x, y, size, count}
  var hovered = null, drawTimes = [], firstPictureAt = null;

  function colourOf(i) {
    var c = clusters[i];
    return c === null || c < 0 ? "#888888" : PALETTE[c % PALETTE.length];
  }

  function load(body) {
    var points = body.points;
    count = points.length;
    ids = new Int32Array(count); clusters = new Array(count);
    for (var i = 0; i < count; i++) { ids[i] = points[i][0]; clusters[i] = points[i][3]; }
    layouts.map = Layouts.make(points.map(function (p) { return [p[1], p[2]]; }), body.levels);
    if (body.grid) layouts.grid = Layouts.make(body.grid, body.grid_levels);
    atlas = body.atlas || null;
    layoutName = window.location.hash === "#grid" && layouts.grid ? "grid" : "map";  // a link may ask
    layout = layouts[layoutName];
    document.querySelectorAll("[data-layout]").forEach(function (button) {
      button.hidden = !layouts[button.dataset.layout];
      button.setAttribute("aria-pressed", String(button.dataset.layout === layoutName));
    });
  }

  // Show the whole layout, or only `box` ([x0, y0, x1, y1] of the map) keeping the zoom's limits.
  function fit(box) {
    var b = box || layout.bounds, spanX = b[2] - b[0], spanY = b[3] - b[1];
    var roomX = Math.max(width - 2 * FIT_MARGIN, width / 2), roomY = Math.max(height - 2 * FIT_MARGIN, height / 2);
    var scale = Math.min(spanX > 0 ? roomX / spanX : Infinity, spanY > 0 ? roomY / spanY : Infinity);
    if (!isFinite(scale)) scale = box ? view.fitted * 64 : 0.9 * Math.min(width, height);
    if (box) scale = Math.min(scale, view.fitted * 20000);
    view = {scale: scale, fitted: box ? view.fitted : scale,
            x: width / 2 - (b[0] + b[2]) / 2 * scale, y: height / 2 - (b[1] + b[3]) / 2 * scale};
  }

  function resize() {
    ratio = window.devicePixelRatio || 1;
    width = canvas.clientWidth; height = canvas.clientHeight;
    canvas.width = Math.round(width * ratio); canvas.height = Math.round(height * ratio);
    fit();
    redraw();
  }

  function redraw() { if (!frame) frame = window.requestAnimationFrame(draw); }

  // The level whose cells are between TILE and 2 TILE pixels wide (past MAX_LEVEL: points).
  function zoomLevel() {
    return Math.max(0, Math.min(MAX_LEVEL + 1, Math.floor(Math.log2(view.scale / TILE))));
  }

  // Return the points of level <= z that may be on screen.
  function candidates(z) {
    var end = layout.byLevel.starts[z + 1], found = [], k;
    if (end <= PREFIX_LIMIT) return layout.byLevel.order.subarray(0, end);
    var margin = 2 * TILE / view.scale;
    var x0 = cellOf(-view.x / view.scale - margin, GRID), x1 = cellOf((width - view.x) / view.scale + margin, GRID);
    var y0 = cellOf(-view.y / view.scale - margin, GRID), y1 = cellOf((height - view.y) / view.scale + margin, GRID);
    for (var cy = y0; cy <= y1; cy++) {
      for (var c = cy * GRID + x0; c <= cy * GRID + x1; c++) {
        for (k = layout.index.starts[c]; k < layout.index.starts[c + 1]; k++) {
          if (layout.level[layout.index.order[k]] <= z) found.push(layout.index.order[k]);
        }
      }
    }
    return found;
  }

  function draw() {
    var started = performance.now();
    frame = 0;
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, width, height);
    drawn = [];
    if (!count) return;
    var z = zoomLevel(), side = Math.pow(2, z), size = view.scale / side;
    var deepest = z > MAX_LEVEL, shown = candidates(z), counts = deepest ? null : Layouts.countsAt(layout, z);
    if (deepest) size = TILE;
    for (var k = 0; k < shown.length; k++) {
      var i = shown[k], x, y;
      if (deepest) {  // past the last level: each point at its own place
        x = view.x + layout.xs[i] * view.scale - size / 2; y = view.y + layout.ys[i] * view.scale - size / 2;
      } else {
        x = view.x + cellOf(layout.xs[i], side) * size; y = view.y + cellOf(layout.ys[i], side) * size;
      }
      if (x > width || y > height || x + size < 0 || y + size < 0) continue;
      drawn.push({i: i, x: x, y: y, size: size, count: deepest ? 1 : counts[i]});
    }
    // Own thumbnails: for pictures drawn larger than an atlas cell, or without atlases; never
    // for more than BIG_PICTURES at once (an old build's overview would ask for every one).
    var own = drawn.length <= BIG_PICTURES && (!atlas || size * ratio > 1.5 * atlas.cell);
    var missing = [];
    drawn.forEach(function (d) {
      drawPicture(d, own, missing);
      if (d.count > 1) drawCount(d);
    });
    if (hovered) {  // the same image's picture in this frame, wherever it moved
      hovered = drawn.filter(function (d) { return d.i === hovered.i; })[0] || null;
    }
    if (missing.length) fetchDetails(missing);
    if (hovered) drawRing(hovered, "#000");
    if (document.activeElement === canvas && centreMost()) drawRing(centreMost(), "#0a66c2");
    canvas.setAttribute("data-ready", "true");
    drawTimes.push(performance.now() - started);
    if (drawTimes.length > 200) drawTimes.shift();
  }

  // The cell's picture: its own thumbnail when drawn large, else its atlas cell, else colour.
  function drawPicture(d, wantOwn, missing) {
    var inner = Math.max(1, d.size - 2), id = ids[d.i];
    var own = wantOwn ? pictureOf(id) : null;
    if (own && own.complete && own.naturalWidth) return drawCover(own, d.x + 1, d.y + 1, inner);
    if (wantOwn && !own && !asked.has(id)) missing.push(id);
    if (atlas && atlasCell(d.i, d.x + 1, d.y + 1, inner)) return;
    context.fillStyle = colourOf(d.i);
    context.fillRect(d.x + 1, d.y + 1, inner, inner);
  }

  function atlasCell(i, x, y, size) {
    var perSheet = atlas.columns * atlas.columns, slot = slots[i];
    var number = Math.floor(slot / perSheet), within = slot % perSheet;
    var sheet = sheets[number];
    if (!sheet) {
      sheet = sheets[number] = new Image();
      sheet.onload = redraw;
      sheet.src = atlas.urls[number];
    }
    if (!sheet.complete || !sheet.naturalWidth) return false;
    if (firstPictureAt === null) firstPictureAt = performance.now();  // since the page opened
    context.drawImage(sheet, (within % atlas.columns) * atlas.cell,
                      Math.floor(within / atlas.columns) * atlas.cell, atlas.cell, atlas.cell,
                      x, y, size, size);
    return true;
  }

  // Draw the middle square of a picture into a square of the canvas (object-fit: cover).
  function drawCover(picture, x, y, size) {
    var side = Math.min(picture.naturalWidth, picture.naturalHeight);
    if (firstPictureAt === null) firstPictureAt = performance.now();
    context.drawImage(picture, (picture.naturalWidth - side) / 2, (picture.naturalHeight - side) / 2,
                      side, side, x, y, size, size);
  }

  function drawCount(d) {
    var text = d.count > 999 ? Math.round(d.count / 1000) + "k" : String(d.count);
    context.font = "bold 11px system-ui, sans-serif";
    var w = context.measureText(text).width + 6;
    context.fillStyle = "rgba(0, 0, 0, 0.78)";
    context.fillRect(d.x + d.size - w - 1, d.y + d.size - 15, w, 14);
    context.fillStyle = "#fff";
    context.fillText(text, d.x + d.size - w + 2, d.y + d.size - 4);
  }

  function drawRing(d, colour) {
    context.strokeStyle = colour; context.lineWidth = 3;
    context.strokeRect(d.x - 1, d.y - 1, d.size + 2, d.size + 2);
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

  // Return the picture drawn under (sx, sy) in CSS pixels of the canvas, or null.
  function pictureAt(sx, sy) {
    for (var k = drawn.length - 1; k >= 0; k--) {
      var d = drawn[k];
      if (sx >= d.x && sx < d.x + d.size && sy >= d.y && sy < d.y + d.size) return d;
    }
    return null;
  }

  // The picture nearest the middle of the canvas: what Enter opens.
  function centreMost() {
    var best = null, distance = Infinity;
    drawn.forEach(function (d) {
      var away = Math.hypot(d.x + d.size / 2 - width / 2, d.y + d.size / 2 - height / 2);
      if (away < distance) { best = d; distance = away; }
    });
    return best;
  }

  var tipAt = {x: 0, y: 0};
  function showTip() {
    if (!hovered) { tip.hidden = true; return; }
    var about = details.get(ids[hovered.i]);
    if (!about) {
      if (!asked.has(ids[hovered.i])) fetchDetails([ids[hovered.i]]);
      return;
    }
    tip.textContent = about.path + (hovered.count > 1 ? " and " + (hovered.count - 1) + " more: click to zoom in" : "");
    tip.hidden = false;
    tip.style.left = Math.max(0, Math.min(tipAt.x + 12, width - tip.offsetWidth)) + "px";
    tip.style.top = (tipAt.y + 12) + "px";
  }

  function zoomAt(sx, sy, factor) {
    var scale = Math.min(view.fitted * 20000, Math.max(view.fitted * 0.5, view.scale * factor));
    view.x = sx - (sx - view.x) * scale / view.scale;
    view.y = sy - (sy - view.y) * scale / view.scale;
    view.scale = scale;
    redraw();
  }

  function openImage(d) {
    window.location.href = canvas.dataset.pageBefore + ids[d.i] + canvas.dataset.pageAfter;
  }

  // A cell of one image opens it; a cell of many zooms in on it until they come apart.
  function choose(d) {
    if (d.count <= 1) return openImage(d);
    view.x += width / 2 - (d.x + d.size / 2); view.y += height / 2 - (d.y + d.size / 2);
    zoomAt(width / 2, height / 2, 4);
  }

  window.similarMap = {
    canvas: canvas,
    view: function () { return view; },
    layout: function () { return layout; },
    ids: function () { return Array.from(ids || []); },
    drawTimes: function () { return drawTimes.slice(); },
    firstPictureAt: function () { return firstPictureAt; },
    // Where an image is now (its place, not its cell), in the window's CSS pixels.
    screenPosition: function (id) {
      var i = Array.prototype.indexOf.call(ids, id), box = canvas.getBoundingClientRect();
      return i < 0 ? null : [box.left + view.x + layout.xs[i] * view.scale,
                             box.top + view.y + layout.ys[i] * view.scale];
    },
    // The pictures drawn now: {id, count, x, y, size} in the window's CSS pixels.
    pictures: function () {
      var box = canvas.getBoundingClientRect();
      return drawn.map(function (d) {
        return {id: ids[d.i], count: d.count, x: box.left + d.x, y: box.top + d.y, size: d.size};
      });
    },
    // Whether the atlas sheets asked for so far are loaded and drawn (tests, benchmarks).
    atlasReady: function () {
      return !frame && (!atlas || (sheets.length > 0 && sheets.every(function (sheet) {
        return sheet.complete && sheet.naturalWidth > 0;
      })));
    },
    sheetsAsked: function () { return sheets.filter(Boolean).length; },
    pictureAt: pictureAt, choose: choose, centreMost: centreMost, zoomAt: zoomAt,
    redraw: redraw, size: function () { return [width, height]; },
    layoutName: function () { return layoutName; },
    clusters: function () { return clusters; },
    show: function (box) { fit(box); redraw(); },
    useLayout: function (name) {
      if (!layouts[name]) return;
      layoutName = name; layout = layouts[name]; fit(); redraw();
    }
  };

  window.addEventListener("resize", resize);
  fetch(canvas.dataset.points)
    .then(function (response) { return response.json(); })
    .then(function (body) {
      load(body); slots = body.slots || null;
      if (!slots) atlas = null;
      resize();
      // Scripts that load after this point (defer does not wait for this fetch) read `loaded`.
      window.similarMap.loaded = true;
      window.dispatchEvent(new Event("similarmap:ready"));
    });
  window.similarMap.hover = function (d, at) {
    if (d !== hovered) { hovered = d; redraw(); }
    tipAt = at; showTip();
  };
})();
