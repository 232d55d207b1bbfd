// photosync gallery: the lightbox. The grid is plain HTML; this script reads the page's
// photos (the JSON in #photos) and shows one large with its facts. Text is set with
// textContent only, so a caption or a file name is never read as HTML.
(function () {
  "use strict";
  var data = document.getElementById("photos");
  var box = document.getElementById("lightbox");
  if (!data || !box) { return; }
  var photos = JSON.parse(data.textContent);
  var root = data.getAttribute("data-root") || "";
  var img = document.getElementById("lb-img");
  var facts = document.getElementById("lb-facts");
  var current = -1;
  var byId = {};
  photos.forEach(function (p, i) { byId[p.id] = i; });
  var LABELS = [["date", "Date"], ["place", "Place"], ["camera", "Camera"], ["caption", "Caption"],
                ["file", "File"], ["albums", "Albums"], ["services", "On"], ["stores", "Copies in"]];

  function fact(name, value) {
    var dt = document.createElement("dt");
    dt.textContent = name;
    var dd = document.createElement("dd");
    if (typeof value === "string") { dd.textContent = value; } else { dd.appendChild(value); }
    facts.appendChild(dt);
    facts.appendChild(dd);
  }

  function safeUrl(url) {
    return /^(https?:|file:)/i.test(url) ? url : null;
  }

  function show(i) {
    if (i < 0 || i >= photos.length) { return; }
    current = i;
    var p = photos[i];
    facts.textContent = "";
    if (p.large || p.thumb) {
      img.src = root + (p.large || p.thumb);
      img.alt = p.caption || p.file || p.date || "";
      img.hidden = false;
    } else {
      img.removeAttribute("src");
      img.hidden = true;
      fact("Picture", "no rendition yet (photosync derive thumbnails)");
    }
    LABELS.forEach(function (pair) {
      var v = p[pair[0]];
      if (v === undefined || v === null || v === "") { return; }
      if (pair[0] === "date") { v = String(v).replace("T", " "); }
      fact(pair[1], Array.isArray(v) ? v.join(", ") : String(v));
    });
    (p.links || []).forEach(function (link) {
      var url = safeUrl(link[1]);
      if (!url) { return; }
      var a = document.createElement("a");
      a.href = url;
      a.rel = "noopener noreferrer";
      a.textContent = link[0];
      fact("Original", a);
    });
    box.hidden = false;
    document.body.classList.add("lb-open");
    if (history.replaceState) { history.replaceState(null, "", "#" + p.id); }
  }

  function close() {
    box.hidden = true;
    current = -1;
    document.body.classList.remove("lb-open");
    if (history.replaceState) { history.replaceState(null, "", location.pathname + location.search); }
  }

  document.addEventListener("click", function (ev) {
    var tile = ev.target.closest ? ev.target.closest("a.tile") : null;
    if (tile) {
      ev.preventDefault();
      var i = byId[tile.getAttribute("data-id")];
      if (i !== undefined) { show(i); }
    }
  });
  box.querySelector(".lb-close").addEventListener("click", close);
  box.querySelector(".lb-prev").addEventListener("click", function () { show(current - 1); });
  box.querySelector(".lb-next").addEventListener("click", function () { show(current + 1); });
  box.addEventListener("click", function (ev) { if (ev.target === box) { close(); } });
  document.addEventListener("keydown", function (ev) {
    if (box.hidden) { return; }
    if (ev.key === "Escape") { close(); }
    else if (ev.key === "ArrowLeft") { show(current - 1); }
    else if (ev.key === "ArrowRight") { show(current + 1); }
  });
  if (location.hash.length > 1) {
    var start = byId[decodeURIComponent(location.hash.slice(1))];
    if (start !== undefined) { show(start); }
  }
}());
