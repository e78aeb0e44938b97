// The chat page works without this; with it, the agents' replies appear as they are sent
// (a small poll of the conversation's messages) and times are shown on the visitor's clock.
(function () {
  "use strict";
  var list = document.getElementById("conversation");
  if (!list) {
    return;
  }
  var lang = document.documentElement.lang || undefined;

  function localTime(element) {
    var at = new Date(element.getAttribute("datetime"));
    if (!isNaN(at.getTime())) {
      element.textContent = at.toLocaleString(lang, { dateStyle: "short", timeStyle: "short" });
    }
  }

  function show(message) {
    if (document.getElementById("m-" + message.id)) {
      return false;
    }
    var mine = message.from === "you";
    var item = document.createElement("li");
    item.className = "line " + (mine ? "mine" : "theirs");
    item.id = "m-" + message.id;
    var who = document.createElement("p");
    who.className = "who";
    who.textContent = list.getAttribute(mine ? "data-you" : "data-shop");
    var text = document.createElement("p");
    text.className = "text";
    text.textContent = message.text;
    var when = document.createElement("time");
    when.setAttribute("datetime", message.at);
    localTime(when);
    item.appendChild(who);
    item.appendChild(text);
    item.appendChild(when);
    list.appendChild(item);
    return true;
  }

  function toEnd() {
    var last = list.lastElementChild;
    if (last && last.scrollIntoView) {
      last.scrollIntoView({ block: "nearest" });
    }
  }

  Array.prototype.forEach.call(list.querySelectorAll("time"), localTime);
  toEnd();

  var url = list.getAttribute("data-poll");
  if (!url || !window.fetch) {
    return;
  }
  var every = Number(list.getAttribute("data-every")) || 4000;
  var wait = every;

  function poll() {
    if (document.hidden) {
      window.setTimeout(poll, every);
      return;
    }
    window
      .fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (answer) {
        var added = false;
        answer.messages.forEach(function (message) {
          added = show(message) || added;
        });
        if (added) {
          toEnd();
        }
        wait = every;
      })
      .catch(function () {
        wait = Math.min(wait * 2, 60000);  // the hub is away: ask less often
      })
      .then(function () {
        window.setTimeout(poll, wait);
      });
  }
  window.setTimeout(poll, every);
})();
