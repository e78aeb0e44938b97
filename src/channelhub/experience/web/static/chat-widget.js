// channelhub chat widget. Add to a shop's pages:
//   <script src="https://hub.example.com/chat/<shop>/widget.js" async></script>
// It adds a "Chat with us" button that opens the shop's chat page in an iframe. It
// defines one global, window.channelhubChat ({open, close, toggle}); its elements live in
// a shadow root and are styled through the CSSOM, so the shop's styles do not reach them
// and none of ours reach the shop (and a strict style-src does not stop them).
(function () {
  "use strict";
  var script = document.currentScript;
  if (window.channelhubChat || !script || !script.src) {
    return;
  }
  var LABELS = {/* labels */};
  var chatPage = script.src.split(/[?#]/)[0].replace(/\/widget\.js$/, "");
  var wanted = (script.getAttribute("data-lang") || document.documentElement.lang || "en")
    .slice(0, 2)
    .toLowerCase();
  var language = LABELS[wanted] ? wanted : "en";
  var words = LABELS[language];
  var host, button, frame;
  var opened = false;

  function style(element, properties) {
    for (var name in properties) {
      if (Object.prototype.hasOwnProperty.call(properties, name)) {
        element.style.setProperty(name, properties[name]);
      }
    }
  }

  function build() {
    host = document.createElement("div");
    host.setAttribute("data-channelhub-chat", "");
    style(host, {
      all: "initial",
      position: "fixed",
      right: "16px",
      bottom: "16px",
      "z-index": "2147483000",
    });
    var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
    var box = document.createElement("div");
    style(box, {
      display: "flex",
      "flex-direction": "column",
      "align-items": "flex-end",
      gap: "8px",
      font: "600 16px/1.2 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    });
    button = document.createElement("button");
    button.type = "button";
    button.textContent = words.open;
    button.setAttribute("aria-expanded", "false");
    style(button, {
      font: "inherit",
      color: "#ffffff",
      background: "#0b4f8a",
      border: "2px solid #ffffff",
      "border-radius": "24px",
      padding: "12px 20px",
      "min-height": "44px",
      cursor: "pointer",
      "box-shadow": "0 2px 8px rgba(0, 0, 0, 0.3)",
    });
    button.addEventListener("click", toggle);
    box.appendChild(button);
    root.appendChild(box);
    document.body.appendChild(host);
  }

  function makeFrame() {
    frame = document.createElement("iframe");
    frame.src = chatPage + "?lang=" + encodeURIComponent(language);
    frame.title = words.open;
    frame.setAttribute("referrerpolicy", "no-referrer");
    // Our own page: scripts, forms and its own origin (for its cookie and its poll);
    // it may open a window of its own, never navigate the shop's page.
    frame.setAttribute(
      "sandbox",
      "allow-scripts allow-forms allow-same-origin allow-popups allow-popups-to-escape-sandbox"
    );
    style(frame, {
      width: "min(360px, calc(100vw - 32px))",
      height: "min(540px, calc(100vh - 96px))",
      border: "1px solid #c9ced6",
      "border-radius": "8px",
      background: "#ffffff",
      "box-shadow": "0 4px 16px rgba(0, 0, 0, 0.25)",
    });
    button.parentNode.insertBefore(frame, button);
  }

  function open() {
    if (!button) {
      return;
    }
    if (!frame) {
      makeFrame();
    }
    frame.style.setProperty("display", "block");
    button.textContent = words.close;
    button.setAttribute("aria-expanded", "true");
    opened = true;
  }

  function close() {
    if (!frame) {
      return;
    }
    frame.style.setProperty("display", "none");
    button.textContent = words.open;
    button.setAttribute("aria-expanded", "false");
    opened = false;
    button.focus();
  }

  function toggle() {
    if (opened) {
      close();
    } else {
      open();
    }
  }

  window.channelhubChat = { open: open, close: close, toggle: toggle };
  if (document.body) {
    build();
  } else {
    document.addEventListener("DOMContentLoaded", build);
  }
})();
