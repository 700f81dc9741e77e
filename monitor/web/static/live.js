// Live matches on the overview: new matches arrive over server-sent events as
// server-rendered (escaped) fragments and go on top of the list. Without
// JavaScript the page still lists the last 24 hours; reload to refresh.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var list = document.getElementById("live");
  if (!list || !window.EventSource) { return; }
  var source = new EventSource(list.dataset.events);
  source.addEventListener("match", function (event) {
    var empty = list.querySelector(".empty");
    if (empty) { empty.remove(); }
    var holder = document.createElement("template");
    holder.innerHTML = event.data;
    var item = holder.content.firstElementChild;
    if (item && !document.getElementById(item.id)) {
      item.classList.add("new");
      list.prepend(item);
    }
  });
});
