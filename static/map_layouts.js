// The map page's layouts (static/map.js draws them): a view's places and zoom levels as typed
// arrays, its points sorted by level, an index of cells to find those in view, and how many
// images each level's pictures stand for.
window.similarMapLayouts = (function () {
  "use strict";
  var MAX_LEVEL = 14;      // the job's deepest level (indexer/explore/zoom_levels.py)
  var GRID = 128;          // cells per side of the index that finds points in view

  // One layout: places, levels, points sorted by level, an index of cells, counts per level.
  function make(places, levels) {
    var count = places.length, xs = new Float64Array(count), ys = new Float64Array(count);
    var level = new Uint8Array(count), i;
    for (i = 0; i < count; i++) {
      xs[i] = places[i][0]; ys[i] = places[i][1];
      level[i] = levels ? levels[i] : MAX_LEVEL + 1;  // no levels: every point at the deepest
    }
    var byLevel = countingSort(level, MAX_LEVEL + 2);
    var cells = new Int32Array(count);
    for (i = 0; i < count; i++) cells[i] = cellOf(ys[i], GRID) * GRID + cellOf(xs[i], GRID);
    var bounds = [Infinity, Infinity, -Infinity, -Infinity];
    for (i = 0; i < count; i++) {
      bounds[0] = Math.min(bounds[0], xs[i]); bounds[1] = Math.min(bounds[1], ys[i]);
      bounds[2] = Math.max(bounds[2], xs[i]); bounds[3] = Math.max(bounds[3], ys[i]);
    }
    return {xs: xs, ys: ys, level: level, byLevel: byLevel, index: countingSort(cells, GRID * GRID),
            bounds: bounds, counts: []};
  }

  function cellOf(v, side) { return Math.min(side - 1, Math.max(0, Math.floor(v * side))); }

  // Return {order, starts}: indices ordered by key, and where each key's run starts.
  function countingSort(keys, size) {
    var starts = new Int32Array(size + 1), order = new Int32Array(keys.length), i;
    for (i = 0; i < keys.length; i++) starts[keys[i] + 1]++;
    for (i = 0; i < size; i++) starts[i + 1] += starts[i];
    var next = starts.slice(0, size);
    for (i = 0; i < keys.length; i++) order[next[keys[i]]++] = i;
    return {order: order, starts: starts};
  }

  // How many images each picture of level <= z stands for (its cell's count), once per z.
  function countsAt(layout, z) {
    if (layout.counts[z]) return layout.counts[z];
    var count = layout.xs.length, side = Math.pow(2, z), tally = new Map();
    var of = new Int32Array(count), i, key;
    for (i = 0; i < count; i++) {
      key = cellOf(layout.ys[i], side) * side + cellOf(layout.xs[i], side);
      tally.set(key, (tally.get(key) || 0) + 1);
    }
    for (i = 0; i < count; i++) {
      if (layout.level[i] <= z) of[i] = tally.get(cellOf(layout.ys[i], side) * side + cellOf(layout.xs[i], side));
    }
    return (layout.counts[z] = of);
  }

  return {make: make, countsAt: countsAt, cellOf: cellOf, MAX_LEVEL: MAX_LEVEL, GRID: GRID};
})();
