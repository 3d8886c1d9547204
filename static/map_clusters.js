// The map page's clusters (static/map.js draws the map): each cluster as its most central
// image on the map (the member nearest the mean of their places) and its size; a click
// shows the cluster's members on the map, in whichever view is on.
(function () {
  "use strict";
  var list = document.getElementById("map-clusters");
  if (!list) return;

  // Return [{cluster, size, central}] largest first: `central` a point index.
  function summaries(clusters, places) {
    var by = new Map();
    clusters.forEach(function (c, i) {
      if (c === null || c < 0) return;
      var s = by.get(c) || {cluster: c, size: 0, x: 0, y: 0, members: []};
      s.size++; s.x += places.xs[i]; s.y += places.ys[i]; s.members.push(i);
      by.set(c, s);
    });
    return Array.from(by.values()).map(function (s) {
      var mx = s.x / s.size, my = s.y / s.size, best = s.members[0], distance = Infinity;
      s.members.forEach(function (i) {
        var away = Math.hypot(places.xs[i] - mx, places.ys[i] - my);
        if (away < distance) { best = i; distance = away; }
      });
      return {cluster: s.cluster, size: s.size, central: best, members: s.members};
    }).sort(function (a, b) { return b.size - a.size || a.cluster - b.cluster; });
  }

  // The box around a cluster's members in the view shown now.
  function bounds(members, places) {
    var box = [Infinity, Infinity, -Infinity, -Infinity];
    members.forEach(function (i) {
      box[0] = Math.min(box[0], places.xs[i]); box[1] = Math.min(box[1], places.ys[i]);
      box[2] = Math.max(box[2], places.xs[i]); box[3] = Math.max(box[3], places.ys[i]);
    });
    return box;
  }

  function start() {
    var map = window.similarMap, ids = map.ids();
    var found = summaries(map.clusters(), map.layout());
    if (!found.length) return;
    var wanted = found.slice(0, 500).map(function (s) { return ids[s.central]; });
    fetch(map.canvas.dataset.details + "?ids=" + wanted.join(","))
      .then(function (response) { return response.json(); })
      .then(function (body) {
        var about = new Map(body.images.map(function (image) { return [image.id, image]; }));
        found.slice(0, 500).forEach(function (s) {
          var item = document.createElement("li"), button = document.createElement("button");
          var picture = document.createElement("img"), size = document.createElement("span");
          button.type = "button"; button.className = "map-cluster";
          button.setAttribute("aria-label", "Cluster " + s.cluster + ", " + s.size +
                              " images: show them on the map");
          picture.alt = ""; picture.loading = "lazy";
          picture.src = about.has(ids[s.central]) ? about.get(ids[s.central]).thumbnail_url : "";
          size.textContent = s.size;
          button.appendChild(picture); button.appendChild(size);
          button.addEventListener("click", function () {
            map.show(bounds(s.members, map.layout()));
            map.canvas.scrollIntoView({block: "nearest"});
          });
          item.appendChild(button); list.appendChild(item);
        });
        list.parentNode.hidden = false;
      });
  }

  // The map may be ready before this script runs (its data came first): then start now.
  if (window.similarMap && window.similarMap.loaded) start();
  else window.addEventListener("similarmap:ready", start);
})();
