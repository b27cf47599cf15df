// Live preview on /registrera: the page works without this script (the "Förhandsvisa"
// button posts the form); with it, the preview follows what the organizer types.
// Everything the server sends back is put on the page as text, never as HTML.
(function () {
  "use strict";
  var form = document.getElementById("registrera");
  var target = document.getElementById("forhandsvisning");
  var url = document.getElementById("url");
  var file = document.getElementById("file");
  if (!form || !target || !window.fetch || !window.FormData) return;
  var timer = null;
  var asked = 0;

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }

  function show(result) {
    target.textContent = "";
    var box = el("section");
    box.id = "forhandsvisning-resultat";
    box.setAttribute("aria-live", "polite");
    if (result.duplicate) box.appendChild(el("div", result.duplicate, "error"));
    if (result.found) {
      var head = el("div", null, "ok");
      var what = result.kind_name ? "en " + result.kind_name : "en kalender";
      head.appendChild(el("p", "Vi hittade " + what + " med " + result.total + " evenemang" +
        (result.upcoming !== result.total ? ", varav " + result.upcoming + " kommande" : "") + "."));
      if (result.reason) head.appendChild(el("p", result.reason + " " + (result.hint || "")));
      box.appendChild(head);
      if (result.events && result.events.length) {
        box.appendChild(el("h3", "De närmaste evenemangen"));
        var list = el("ul", null, "events");
        result.events.forEach(function (event) {
          var item = el("li");
          item.appendChild(el("span", event.when, "when"));
          item.appendChild(document.createTextNode((event.cancelled ? "INSTÄLLT: " : "") + event.title));
          if (event.place) item.appendChild(el("span", " – " + event.place, "place"));
          list.appendChild(item);
        });
        box.appendChild(list);
      }
    } else {
      var fail = el("div", null, "error");
      fail.appendChild(el("p", result.reason || result.error || "Vi kunde inte förhandsvisa."));
      if (result.hint) fail.appendChild(el("p", result.hint));
      box.appendChild(fail);
    }
    target.appendChild(box);
  }

  function preview() {
    var hasFile = file && file.files && file.files.length > 0;
    if (!hasFile && !/^\s*(https?|webcals?|feed):\/\/\S+\.\S+/i.test(url.value) &&
        !/^\s*[\w.-]+\.[a-z]{2,}\//i.test(url.value)) return;
    var data = new FormData(form);
    data.delete("atgard");
    if (!hasFile) data.delete("file");
    var mine = ++asked;
    target.textContent = "";
    target.appendChild(el("p", "Hämtar förhandsvisning …", "notice"));
    fetch("/api/sources/preview", { method: "POST", body: data })
      .then(function (response) { return response.json(); })
      .then(function (result) { if (mine === asked) show(result); })
      .catch(function () {
        if (mine === asked) show({ found: false, reason: "Förhandsvisningen gick inte att hämta just nu." });
      });
  }

  url.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(preview, 900);
  });
  if (file) file.addEventListener("change", preview);
})();
