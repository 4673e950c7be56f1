/*
 * Healthflow clinic chat widget.
 *
 * Embed with one tag:
 *   <script src="https://…/static/clinic-chat.js" data-server="https://rasa.example"></script>
 * and optionally, before it:
 *   <script>window.ClinicChatConfig = {serverUrl, feedbackUrl, title, greeting,
 *                                      settingsUrl, colors: {primary, …}, texts: {…}};</script>
 *
 * Talks to Rasa's REST channel (POST /webhooks/rest/webhook): one JSON list of messages per
 * turn, as described in the project's reply contract. Each reply's ``custom`` object carries
 * its text parts, crisis resources and citations, and the widget lays its own text out from
 * them (it never takes a reply's text apart). The crisis lines the widget names outside a
 * reply (its footer, the "could not reach" notice) come from the clinic's settings
 * (GET /widget/settings on the server that serves this file, config/clinic.yml
 * ``crisis_resources``): no phone number is typed here. Plain JavaScript, no dependencies.
 *
 * Safety: everything the assistant or the person wrote is put on the page with textContent
 * or createTextNode, never innerHTML; only http(s) and tel: addresses become links.
 */
(function () {
  "use strict";

  if (window.ClinicChat && window.ClinicChat.loaded) {
    return; // embedded twice: keep the first
  }

  var SCRIPT = document.currentScript ||
    document.querySelector('script[src*="clinic-chat.js"]');

  // Every text the widget itself shows; override any of them with ClinicChatConfig.texts.
  var TEXTS = {
    launcher: "Chat with us",
    launcherOpen: "Close chat",
    title: "Healthflow assistant",
    subtitle: "Automated assistant \u00b7 general information, not medical advice",
    close: "Close chat",
    restart: "New chat",
    restartLabel: "Start a new conversation",
    restartQuestion: "Start a new chat? This conversation will be cleared.",
    restartConfirm: "Start new chat",
    restartCancel: "Keep this chat",
    inputLabel: "Type your question",
    inputPlaceholder: "Ask about gut health and mood\u2026",
    send: "Send",
    you: "You",
    assistant: "Assistant",
    typing: "The assistant is typing\u2026",
    noCrypto: "The chat cannot start in this browser: it has no secure random numbers " +
      "(window.crypto), so the conversation could not be kept private. Please use an " +
      "up-to-date browser or call the clinic.",
    sources: "Sources",
    sourcesCount: "Sources ({count})",
    doiPrefix: "doi:",
    suggestions: "Suggested replies",
    crisisTitle: "Help is available right now",
    call: "Call",
    feedbackQuestion: "Was this answer helpful?",
    helpful: "Helpful",
    notHelpful: "Not helpful",
    feedbackThanks: "Thanks for your feedback.",
    feedbackFailed: "Sorry, your feedback could not be saved.",
    unreachable: "We couldn\u2019t reach the assistant. Check your connection and try again.",
    busy: "The assistant is busy. Please wait a few seconds and try again.",
    rejected: "The assistant could not read that message.",
    noReply: "The assistant didn\u2019t answer. Please try again.",
    // {emergency} and {crisis} are the clinic's emergency and crisis numbers (from its
    // settings); the *Unknown texts stand in until those are known.
    emergency: "If this is an emergency, call {emergency}.",
    emergencyUnknown: "If this is an emergency, call your local emergency number.",
    retry: "Retry",
    notSent: "Not sent",
    disclaimer: "Not for emergencies: call {emergency}, or call or text {crisis}.",
    disclaimerUnknown: "Not for emergencies."
  };

  var COLOR_VARIABLES = {
    primary: "--cc-primary",
    onPrimary: "--cc-on-primary",
    background: "--cc-bg",
    text: "--cc-text",
    muted: "--cc-muted",
    botBubble: "--cc-bot-bg",
    userBubble: "--cc-user-bg",
    userText: "--cc-user-text",
    focus: "--cc-focus",
    crisis: "--cc-crisis"
  };

  var MAX_MESSAGE_CHARS = 20000;
  var MAX_ENTRIES = 200;
  var SVG_NS = "http://www.w3.org/2000/svg";
  var ICONS = {
    chat: "M20 2H4c-1.1 0-2 .9-2 2v18l4-4h14c1.1 0 2-.9 2-2V4c0-1.1-.9-2-2-2z",
    close: "M19 6.41 17.59 5 12 10.59 6.41 5 5 6.41 10.59 12 5 17.59 6.41 19 12 13.41 " +
      "17.59 19 19 17.59 13.41 12z",
    send: "M2.01 21 23 12 2.01 3 2 10l15 2-15 2z",
    thumb: "M1 21h4V9H1v12zm22-11c0-1.1-.9-2-2-2h-6.31l.95-4.57.03-.32c0-.41-.17-.79-" +
      ".44-1.06L14.17 1 7.59 7.59C7.22 7.95 7 8.45 7 9v10c0 1.1.9 2 2 2h9c.83 0 1.54-.5 " +
      "1.84-1.22l3.02-7.05c.09-.23.14-.47.14-.73v-2z",
    phone: "M6.62 10.79a15.05 15.05 0 0 0 6.59 6.59l2.2-2.2a1 1 0 0 1 1.02-.24c1.12.37 " +
      "2.33.57 3.57.57a1 1 0 0 1 1 1V20a1 1 0 0 1-1 1A17 17 0 0 1 3 4a1 1 0 0 1 1-1h3.5a1 1 " +
      "0 0 1 1 1c0 1.25.2 2.45.57 3.57a1 1 0 0 1-.25 1.02l-2.2 2.2z"
  };
  var MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December"];

  // ---------------------------------------------------------------- configuration

  function readConfig() {
    var data = (SCRIPT && SCRIPT.dataset) || {};
    var given = window.ClinicChatConfig || {};
    var config = {
      serverUrl: given.serverUrl || data.server || "",
      feedbackUrl: given.feedbackUrl || data.feedback || "",
      settingsUrl: given.settingsUrl || data.settings || "",
      title: given.title || data.title || "",
      greeting: given.greeting || data.greeting || "",
      greetPayload: given.greetPayload === undefined ? "/greet" : given.greetPayload,
      storage: given.storage === "local" ? "local" : "session",
      requestTimeoutMs: Number(given.requestTimeoutMs) || 20000,
      css: given.css === undefined ? true : given.css,
      colors: given.colors || {},
      texts: Object.assign({}, TEXTS, given.texts || {})
    };
    if (config.title) {
      config.texts.title = config.title;
    }
    var base = SCRIPT && SCRIPT.src ? SCRIPT.src : window.location.href;
    if (!config.serverUrl) {
      config.serverUrl = window.location.origin;
    }
    config.serverUrl = String(config.serverUrl).replace(/\/+$/, "");
    if (!config.feedbackUrl) {
      config.feedbackUrl = new URL("/feedback", base).href;
    }
    if (!config.settingsUrl) {
      config.settingsUrl = new URL("/widget/settings", base).href;
    }
    config.cssUrl = typeof config.css === "string" ? config.css :
      new URL("clinic-chat.css", base).href;
    return config;
  }

  // ---------------------------------------------------------------- safe DOM helpers

  /** An element with attributes and text; text is always set with textContent. */
  function el(tag, attributes, text) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      var value = attributes[name];
      if (value === null || value === undefined || value === false) {
        return;
      }
      if (name === "className") {
        node.className = value;
      } else {
        node.setAttribute(name, value === true ? "" : String(value));
      }
    });
    if (text !== undefined && text !== null) {
      node.textContent = String(text);
    }
    return node;
  }

  function icon(name, extraClass) {
    var svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.setAttribute("class", "cc-icon" + (extraClass ? " " + extraClass : ""));
    var path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", ICONS[name]);
    svg.appendChild(path);
    return svg;
  }

  /** The address if it is http(s) or tel:, else null: nothing else becomes a link. */
  function safeHref(value) {
    if (typeof value !== "string" || !value) {
      return null;
    }
    try {
      var url = new URL(value, window.location.href);
      if (url.protocol === "http:" || url.protocol === "https:" || url.protocol === "tel:") {
        return url.href;
      }
    } catch (error) {
      return null;
    }
    return null;
  }

  function telHref(phone) {
    var digits = String(phone || "").replace(/[^\d+]/g, "");
    return digits ? "tel:" + digits : null;
  }

  function link(href, text, className) {
    var safe = safeHref(href);
    if (!safe) {
      return el("span", { className: className }, text);
    }
    var external = safe.indexOf("tel:") !== 0;
    return el("a", {
      className: className,
      href: safe,
      target: external ? "_blank" : null,
      rel: external ? "noopener noreferrer" : null
    }, text);
  }

  /** URLs and North American phone numbers inside a text, plus the short numbers among the
   *  clinic's crisis lines (known once the settings have loaded). */
  function linkablePattern(shortNumbers) {
    var short = (shortNumbers || []).filter(function (number) {
      return /^\d{3,6}$/.test(number);
    });
    return new RegExp(
      "(https?:\\/\\/[^\\s<>\"]+)" +
      "|((?:\\+?1[-. ])?\\(?\\d{3}\\)?[-. ]\\d{3}[-. ]\\d{4}\\b)" +
      (short.length ? "|(\\b(?:" + short.join("|") + ")\\b)" : ""), "g");
  }

  var LINKABLE = linkablePattern([]);

  /** Append ``text`` to ``parent`` as text nodes, with addresses and numbers as links. */
  function appendLinkified(parent, text) {
    var last = 0;
    var match;
    LINKABLE.lastIndex = 0;
    while ((match = LINKABLE.exec(text)) !== null) {
      var found = match[0];
      var href;
      if (match[1]) {
        found = found.replace(/[.,;:!?'\u2019]+$/, "");
        var opened = (found.match(/\(/g) || []).length;
        while (found.slice(-1) === ")" && (found.match(/\)/g) || []).length > opened) {
          found = found.slice(0, -1);
        }
        href = found;
      } else {
        href = telHref(found);
      }
      parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      parent.appendChild(link(href, found, "cc-inline-link"));
      last = match.index + found.length;
      LINKABLE.lastIndex = last;
    }
    parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function formatDate(value) {
    var parts = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(value || ""));
    if (!parts) {
      return String(value || "");
    }
    return MONTHS[Number(parts[2]) - 1] + " " + Number(parts[3]) + ", " + parts[1];
  }

  /** True when the browser has a cryptographic random source (conversation ids need one). */
  function hasCrypto() {
    return !!(window.crypto && typeof window.crypto.getRandomValues === "function");
  }

  /** 128 random bits from crypto.getRandomValues, as 32 hex digits. There is no fallback:
   *  an id from the clock or Math.random could be guessed, and the id is the key to the
   *  conversation (start() refuses to run without crypto). */
  function randomId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  // ---------------------------------------------------------------- storage

  function Store(kind, key) {
    this.key = key;
    try {
      this.area = kind === "local" ? window.localStorage : window.sessionStorage;
    } catch (error) {
      this.area = null; // storage blocked: the conversation lasts as long as the page
    }
  }

  Store.prototype.load = function () {
    try {
      var raw = this.area && this.area.getItem(this.key);
      var state = raw ? JSON.parse(raw) : null;
      if (state && typeof state.sender === "string" && Array.isArray(state.entries)) {
        return state;
      }
    } catch (error) {
      // unreadable state: start over
    }
    return null;
  };

  Store.prototype.save = function (state) {
    try {
      if (this.area) {
        state.entries = state.entries.slice(-MAX_ENTRIES);
        this.area.setItem(this.key, JSON.stringify(state));
      }
    } catch (error) {
      // quota or privacy mode: keep going without persistence
    }
  };

  Store.prototype.clear = function () {
    try {
      if (this.area) {
        this.area.removeItem(this.key);
      }
    } catch (error) {
      // nothing to clear
    }
  };

  // ---------------------------------------------------------------- the reply contract

  /** The text the widget shows for a reply's ``custom`` object: the lead-in, a line per
   *  crisis resource, the other parts. The source line of text-only channels is left out:
   *  the Sources block says it in full, with the quote and the links. */
  function replyText(custom) {
    var parts = custom.parts.filter(function (part) {
      return typeof part === "string" && part;
    });
    var lines = parts.slice(0, 1);
    (Array.isArray(custom.resources) ? custom.resources : []).forEach(function (resource) {
      if (resource && typeof resource === "object") {
        lines.push(("- " + String(resource.name || "") + ": " + String(resource.phone || "") +
          ". " + String(resource.when || "")).trim());
      }
    });
    return lines.concat(parts.slice(1)).join("\n");
  }

  /** One REST reply (a list of messages) as the answer entry the widget renders and stores.
   *  ``messages`` keeps the texts as sent (feedback names the answer by them); ``shown`` is
   *  what the widget lays out. Rasa's REST channel sends a message's text, then its
   *  ``custom`` object, so a ``custom`` object with ``parts`` lays out the text before it. */
  function toAnswer(messages, index) {
    var answer = {
      type: "answer", index: index, topic: null, messages: [], shown: [], buttons: [],
      citations: [], resources: [], error: null, feedback: null
    };
    var textBefore = -1;
    messages.forEach(function (message) {
      if (!message || typeof message !== "object") {
        textBefore = -1;
        return;
      }
      var textHere = -1;
      if (typeof message.text === "string" && message.text) {
        answer.messages.push(message.text);
        answer.shown.push(message.text);
        textHere = answer.shown.length - 1;
      }
      var laidOut = message.custom && typeof message.custom === "object" &&
        Array.isArray(message.custom.parts) ? replyText(message.custom) : null;
      if (laidOut !== null) {
        var own = textHere >= 0 ? textHere : textBefore;
        if (own >= 0) {
          answer.shown[own] = laidOut;
        } else if (laidOut) {
          answer.shown.push(laidOut);
        }
      }
      textBefore = laidOut === null ? textHere : -1;
      if (Array.isArray(message.buttons)) {
        message.buttons.forEach(function (button) {
          if (button && typeof button.title === "string" && typeof button.payload === "string") {
            answer.buttons.push({ title: button.title, payload: button.payload });
          }
        });
      }
      var custom = message.custom;
      if (custom && typeof custom === "object") {
        if (!answer.topic && typeof custom.topic === "string") {
          answer.topic = custom.topic; // the first topic is the turn's primary topic
        }
        if (Array.isArray(custom.citations)) {
          custom.citations.forEach(function (citation) {
            if (citation && typeof citation === "object") {
              answer.citations.push(citation);
            }
          });
        }
        if (Array.isArray(custom.resources)) {
          custom.resources.forEach(function (resource) {
            if (resource && typeof resource === "object") {
              answer.resources.push(resource);
            }
          });
        }
        if (typeof custom.error === "string") {
          answer.error = custom.error;
        }
      }
    });
    return answer;
  }

  /** True for a reply that answers a question (from the knowledge base or the clinic's
   *  facts, or says it cannot): those get thumbs; greetings, booking steps and crisis
   *  lines do not. */
  function answersQuestion(answer) {
    if (answer.local || answer.error || !answer.messages.length || answer.resources.length) {
      return false;
    }
    return answer.citations.length > 0 || answer.topic === "out_of_scope";
  }

  function answerText(answer) {
    return answer.messages.join("\n");
  }

  // ---------------------------------------------------------------- the widget

  function Widget(config) {
    this.config = config;
    this.texts = config.texts;
    this.store = new Store(config.storage, "clinic-chat:v1:" + config.serverUrl);
    this.state = this.store.load() || this.freshState();
    this.queue = Promise.resolve();
    this.pending = 0;
  }

  Widget.prototype.freshState = function () {
    return { sender: "web-" + randomId(), entries: [], answers: 0, open: false };
  };

  Widget.prototype.save = function () {
    this.store.save(this.state);
  };

  Widget.prototype.build = function () {
    var t = this.texts;
    var self = this;
    var root = el("div", { className: "cc-root", "data-clinic-chat": "" });
    root.hidden = true; // shown once the stylesheet has loaded
    this.applyColors(root);

    var launcher = el("button", {
      type: "button", className: "cc-launcher", "aria-expanded": "false",
      "aria-controls": "cc-panel"
    });
    launcher.appendChild(icon("chat"));
    this.launcherLabel = el("span", { className: "cc-launcher-label" }, t.launcher);
    launcher.appendChild(this.launcherLabel);
    launcher.addEventListener("click", function () {
      self.toggle();
    });

    var panel = el("div", {
      id: "cc-panel", className: "cc-panel", role: "dialog", "aria-modal": "false",
      "aria-labelledby": "cc-title", "aria-describedby": "cc-subtitle"
    });
    panel.hidden = true;
    panel.addEventListener("keydown", function (event) {
      if (event.key === "Escape") {
        event.preventDefault();
        self.close(true);
      }
    });

    var header = el("div", { className: "cc-header" });
    var heading = el("div", { className: "cc-heading" });
    heading.appendChild(el("h2", { id: "cc-title", className: "cc-title" }, t.title));
    heading.appendChild(el("p", { id: "cc-subtitle", className: "cc-subtitle" }, t.subtitle));
    header.appendChild(heading);
    var restart = el("button", {
      type: "button", className: "cc-header-button cc-restart", "aria-label": t.restartLabel
    }, t.restart);
    restart.addEventListener("click", function () {
      self.askRestart();
    });
    header.appendChild(restart);
    var close = el("button", {
      type: "button", className: "cc-header-button cc-close", "aria-label": t.close
    });
    close.appendChild(icon("close"));
    close.addEventListener("click", function () {
      self.close(true);
    });
    header.appendChild(close);

    // "New chat" clears the conversation only once the person confirms it here.
    var confirmBar = el("div", { className: "cc-confirm", role: "alertdialog",
      "aria-labelledby": "cc-confirm-text" });
    confirmBar.hidden = true;
    confirmBar.appendChild(el("p", { id: "cc-confirm-text", className: "cc-confirm-text" },
      t.restartQuestion));
    var confirmYes = el("button", { type: "button", className: "cc-confirm-yes" }, t.restartConfirm);
    var confirmNo = el("button", { type: "button", className: "cc-confirm-no" }, t.restartCancel);
    confirmYes.addEventListener("click", function () {
      self.hideRestart();
      self.restart();
    });
    confirmNo.addEventListener("click", function () {
      self.hideRestart();
      restart.focus();
    });
    confirmBar.addEventListener("keydown", function (event) {
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        self.hideRestart();
        restart.focus();
      }
    });
    confirmBar.appendChild(confirmYes);
    confirmBar.appendChild(confirmNo);

    var scroller = el("div", { className: "cc-scroller" });
    var log = el("div", {
      className: "cc-log", role: "log", "aria-live": "polite", "aria-label": t.title
    });
    var typing = el("div", { className: "cc-typing", role: "status" });
    typing.hidden = true;
    typing.appendChild(el("span", { className: "cc-sr" }, t.typing));
    var dots = el("span", { className: "cc-dots", "aria-hidden": "true" });
    dots.appendChild(el("span"));
    dots.appendChild(el("span"));
    dots.appendChild(el("span"));
    typing.appendChild(dots);
    scroller.appendChild(log);
    scroller.appendChild(typing);

    var form = el("form", { className: "cc-form" });
    var label = el("label", { className: "cc-sr", "for": "cc-input" }, t.inputLabel);
    var input = el("textarea", {
      id: "cc-input", className: "cc-input", rows: "1", maxlength: String(MAX_MESSAGE_CHARS),
      placeholder: t.inputPlaceholder, autocomplete: "off"
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        self.submit();
      }
    });
    var send = el("button", { type: "submit", className: "cc-send", "aria-label": t.send });
    send.appendChild(icon("send"));
    form.appendChild(label);
    form.appendChild(input);
    form.appendChild(send);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      self.submit();
    });

    var footer = el("div", { className: "cc-footer" });
    var disclaimer = el("p", { className: "cc-disclaimer" });
    appendLinkified(disclaimer, this.crisisText("disclaimer"));
    footer.appendChild(form);
    footer.appendChild(disclaimer);

    panel.appendChild(header);
    panel.appendChild(confirmBar);
    panel.appendChild(scroller);
    panel.appendChild(footer);
    root.appendChild(panel);
    root.appendChild(launcher);

    this.root = root;
    this.launcher = launcher;
    this.panel = panel;
    this.scroller = scroller;
    this.confirmBar = confirmBar;
    this.confirmYes = confirmYes;
    this.disclaimer = disclaimer;
    this.log = log;
    this.typing = typing;
    this.input = input;
    this.renderAll();
    return root;
  };

  Widget.prototype.applyColors = function (root) {
    var colors = this.config.colors;
    Object.keys(COLOR_VARIABLES).forEach(function (name) {
      var value = colors[name];
      if (typeof value === "string" && window.CSS && CSS.supports("color", value)) {
        root.style.setProperty(COLOR_VARIABLES[name], value);
      }
    });
  };

  Widget.prototype.mount = function () {
    var self = this;
    var root = this.build();
    var reveal = function () {
      root.hidden = false;
      if (self.state.open) {
        self.open(false); // reopen after a reload, without taking the focus
      }
    };
    if (this.config.css) {
      var sheet = el("link", { rel: "stylesheet", href: this.config.cssUrl });
      sheet.addEventListener("load", reveal);
      sheet.addEventListener("error", reveal);
      document.head.appendChild(sheet);
    } else {
      reveal();
    }
    document.body.appendChild(root);
  };

  // ------------------------------------------------------------ the clinic's crisis lines

  /** ``texts[key]`` with the clinic's {emergency} and {crisis} numbers, or its *Unknown
   *  variant while they are not known. */
  Widget.prototype.crisisText = function (key) {
    var text = String(this.texts[key] || "");
    if (!/\{(?:emergency|crisis)\}/.test(text)) {
      return text;
    }
    var lines = this.crisisLines;
    if (!lines || !lines.emergency || !lines.crisis) {
      return String(this.texts[key + "Unknown"] || "");
    }
    return text.replace(/\{emergency\}/g, lines.emergency).replace(/\{crisis\}/g, lines.crisis);
  };

  /** Read the crisis lines from the clinic's settings (GET settingsUrl). */
  Widget.prototype.loadSettings = function () {
    var self = this;
    if (!window.fetch || !this.config.settingsUrl) {
      return Promise.resolve();
    }
    return fetch(this.config.settingsUrl, { credentials: "omit" }).then(function (response) {
      if (!response.ok) {
        throw new Error("settings " + response.status);
      }
      return response.json();
    }).then(function (settings) {
      self.useSettings(settings);
    }).catch(function () {
      // no settings: the footer and notices use the *Unknown texts (no number)
    });
  };

  Widget.prototype.useSettings = function (settings) {
    if (!settings || typeof settings !== "object") {
      return;
    }
    var resources = Array.isArray(settings.crisis_resources) ? settings.crisis_resources : [];
    this.crisisLines = {
      emergency: String(settings.emergency_phone || ""),
      crisis: String(settings.crisis_phone || "")
    };
    LINKABLE = linkablePattern(resources.map(function (resource) {
      return String((resource && resource.phone) || "");
    }));
    var self = this;
    this.disclaimer.textContent = "";
    appendLinkified(this.disclaimer, this.crisisText("disclaimer"));
    this.state.entries.forEach(function (entry) {
      if (entry.type === "user" && entry.status === "failed") {
        self.rerenderEntry(entry);
      }
    });
  };

  // ------------------------------------------------------------ open / close

  Widget.prototype.open = function (moveFocus) {
    this.panel.hidden = false;
    this.root.classList.add("cc-is-open");
    this.launcher.setAttribute("aria-expanded", "true");
    this.launcher.setAttribute("aria-label", this.texts.launcherOpen);
    this.state.open = true;
    this.save();
    this.fitAllSources();
    this.scrollToEnd();
    if (moveFocus !== false) {
      this.input.focus();
    }
    if (!this.state.entries.length) {
      this.greet();
    }
  };

  Widget.prototype.close = function (returnFocus) {
    this.panel.hidden = true;
    this.root.classList.remove("cc-is-open");
    this.launcher.setAttribute("aria-expanded", "false");
    this.launcher.removeAttribute("aria-label");
    this.state.open = false;
    this.save();
    if (returnFocus) {
      this.launcher.focus();
    }
  };

  Widget.prototype.toggle = function () {
    if (this.panel.hidden) {
      this.open(true);
    } else {
      this.close(true);
    }
  };

  Widget.prototype.greet = function () {
    if (this.config.greeting) {
      this.addEntry({ type: "answer", local: true, index: null, topic: null,
        messages: [this.config.greeting], buttons: [], citations: [], resources: [] });
    } else if (this.config.greetPayload) {
      this.deliverNew(this.config.greetPayload, null);
    }
  };

  Widget.prototype.askRestart = function () {
    if (!this.state.entries.some(function (entry) { return entry.type === "user" && !entry.hidden; })) {
      this.restart(); // nothing said yet: nothing to lose
      return;
    }
    this.confirmBar.hidden = false;
    this.confirmYes.focus();
  };

  Widget.prototype.hideRestart = function () {
    this.confirmBar.hidden = true;
  };

  Widget.prototype.restart = function () {
    this.store.clear();
    this.state = this.freshState();
    this.state.open = true;
    this.renderAll();
    this.save();
    this.greet();
    this.input.focus();
  };

  // ------------------------------------------------------------ sending

  Widget.prototype.submit = function () {
    var text = this.input.value.trim();
    if (!text) {
      return;
    }
    this.input.value = "";
    this.deliverNew(text, text);
  };

  /** Show ``shown`` as the person's message (nothing for a silent greeting), send ``payload``. */
  Widget.prototype.deliverNew = function (payload, shown) {
    var entry = { type: "user", id: randomId(), text: shown, payload: payload,
      hidden: shown === null, status: "pending" };
    this.addEntry(entry);
    this.enqueue(entry);
  };

  Widget.prototype.enqueue = function (entry) {
    var self = this;
    this.pending += 1;
    this.setTyping(true);
    this.queue = this.queue.then(function () {
      return self.deliver(entry);
    }).then(function () {
      self.pending -= 1;
      self.setTyping(self.pending > 0);
    });
  };

  Widget.prototype.deliver = function (entry) {
    var self = this;
    var state = this.state; // a reply that arrives after "New chat" belongs to no one
    var controller = window.AbortController ? new AbortController() : null;
    var timer = controller ? window.setTimeout(function () {
      controller.abort();
    }, this.config.requestTimeoutMs) : null;
    return fetch(this.config.serverUrl + "/webhooks/rest/webhook", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sender: state.sender, message: entry.payload }),
      signal: controller ? controller.signal : undefined,
      credentials: "omit"
    }).then(function (response) {
      if (response.status === 429) {
        throw { reason: "busy" };
      }
      if (response.status === 400) {
        throw { reason: "rejected" };
      }
      if (!response.ok) {
        throw { reason: "unreachable" };
      }
      return response.json().catch(function () {
        throw { reason: "unreachable" };
      });
    }).then(function (messages) {
      if (self.state !== state) {
        return;
      }
      if (!Array.isArray(messages) || !messages.length) {
        throw { reason: "noReply" };
      }
      entry.status = "sent";
      entry.reason = null;
      self.rerenderEntry(entry);
      self.state.answers = (self.state.answers || 0) + 1;
      self.addEntry(toAnswer(messages, self.state.answers - 1));
    }).catch(function (error) {
      if (self.state !== state) {
        return;
      }
      entry.status = "failed";
      entry.reason = (error && error.reason) || "unreachable";
      self.rerenderEntry(entry);
      self.save();
    }).then(function () {
      if (timer) {
        window.clearTimeout(timer);
      }
    });
  };

  Widget.prototype.retry = function (entry) {
    entry.status = "pending";
    entry.reason = null;
    this.rerenderEntry(entry);
    this.save();
    this.enqueue(entry);
    this.input.focus();
  };

  Widget.prototype.setTyping = function (on) {
    this.typing.hidden = !on;
    if (on) {
      this.scrollToEnd();
    }
  };

  // ------------------------------------------------------------ feedback

  Widget.prototype.sendFeedback = function (answer, value, group) {
    var self = this;
    var status = group.querySelector(".cc-feedback-status");
    var buttons = group.querySelectorAll("button");
    Array.prototype.forEach.call(buttons, function (button) {
      button.setAttribute("aria-pressed", String(button.dataset.value === value));
    });
    return fetch(this.config.feedbackUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        sender: this.state.sender,
        value: value,
        topic: answer.topic,
        message_index: answer.index,
        message: answerText(answer)
      }),
      credentials: "omit"
    }).then(function (response) {
      if (!response.ok) {
        throw new Error("feedback " + response.status);
      }
      answer.feedback = value;
      self.save();
      status.textContent = self.texts.feedbackThanks;
    }).catch(function () {
      Array.prototype.forEach.call(buttons, function (button) {
        button.setAttribute("aria-pressed", String(button.dataset.value === answer.feedback));
      });
      status.textContent = self.texts.feedbackFailed;
    });
  };

  // ------------------------------------------------------------ rendering

  Widget.prototype.addEntry = function (entry) {
    this.state.entries.push(entry);
    this.save();
    var node = this.renderEntry(entry);
    if (node) {
      this.log.appendChild(node);
      this.fitSources(node);
      if (entry.type === "answer") {
        this.scrollToAnswer(node);
      } else {
        this.scrollToEnd();
      }
    }
  };

  Widget.prototype.renderAll = function () {
    var self = this;
    this.log.textContent = "";
    this.state.entries.forEach(function (entry) {
      if (entry.status === "pending") {
        entry.status = "failed"; // the page was left while waiting: offer a retry
        entry.reason = "unreachable";
      }
      var node = self.renderEntry(entry);
      if (node) {
        self.log.appendChild(node);
        self.fitSources(node);
      }
    });
  };

  /** An answer is read in the chat window without scrolling: when its open Sources block
   *  would make it taller than the window, Sources starts closed (one line, opens on tap). */
  Widget.prototype.fitSources = function (node) {
    var details = node.querySelector && node.querySelector("details.cc-sources");
    if (!details || details.dataset.fitted || !this.scroller.clientHeight) {
      return; // nothing to fit, already fitted, or the panel is not shown yet
    }
    details.dataset.fitted = "1";
    if (details.open && node.offsetHeight > this.scroller.clientHeight) {
      details.open = false;
    }
  };

  Widget.prototype.fitAllSources = function () {
    var self = this;
    Array.prototype.forEach.call(this.log.querySelectorAll(".cc-turn-bot"), function (node) {
      self.fitSources(node);
    });
  };

  Widget.prototype.rerenderEntry = function (entry) {
    var old = this.log.querySelector('[data-entry="' + entry.id + '"]');
    var node = this.renderEntry(entry);
    if (old && node) {
      this.log.replaceChild(node, old);
    } else if (old) {
      this.log.removeChild(old);
    } else if (node) {
      this.log.appendChild(node);
    }
    this.scrollToEnd();
  };

  Widget.prototype.renderEntry = function (entry) {
    if (entry.type === "user") {
      return this.renderUser(entry);
    }
    if (entry.type === "answer") {
      return this.renderAnswer(entry);
    }
    return null;
  };

  Widget.prototype.renderUser = function (entry) {
    var self = this;
    var t = this.texts;
    if (entry.hidden && entry.status !== "failed") {
      return null;
    }
    var turn = el("div", { className: "cc-turn cc-turn-user", "data-entry": entry.id });
    if (!entry.hidden) {
      var bubble = el("div", { className: "cc-bubble cc-user" });
      bubble.appendChild(el("span", { className: "cc-sr" }, t.you + ": "));
      bubble.appendChild(document.createTextNode(entry.text));
      turn.appendChild(bubble);
    }
    if (entry.status === "failed") {
      var error = el("div", { className: "cc-error", role: "alert" });
      if (!entry.hidden) {
        error.appendChild(el("span", { className: "cc-error-tag" }, t.notSent));
      }
      error.appendChild(el("p", { className: "cc-error-text" },
        (t[entry.reason] || t.unreachable)));
      var emergency = el("p", { className: "cc-error-text" });
      appendLinkified(emergency, this.crisisText("emergency"));
      error.appendChild(emergency);
      var retry = el("button", { type: "button", className: "cc-retry" }, t.retry);
      retry.addEventListener("click", function () {
        self.retry(entry);
      });
      error.appendChild(retry);
      turn.appendChild(error);
    }
    return turn;
  };

  Widget.prototype.renderAnswer = function (answer) {
    var self = this;
    var t = this.texts;
    var crisis = answer.topic === "crisis" || answer.resources.length > 0;
    var turn = el("div", {
      className: "cc-turn cc-turn-bot" + (crisis ? " cc-turn-crisis" : ""),
      "data-topic": answer.topic
    });
    if (answer.resources.length) {
      turn.appendChild(this.renderCrisis(answer.resources));
    }
    (answer.shown || answer.messages).forEach(function (text, position) {
      var bubble = el("div", { className: "cc-bubble cc-bot" });
      if (position === 0) {
        bubble.appendChild(el("span", { className: "cc-sr" }, t.assistant + ": "));
      }
      appendLinkified(bubble, text);
      turn.appendChild(bubble);
    });
    // Sources and thumbs share one line while Sources is closed.
    var foot = el("div", { className: "cc-answer-foot" });
    if (answer.citations.length) {
      foot.appendChild(this.renderSources(answer.citations));
    }
    if (answersQuestion(answer)) {
      foot.appendChild(this.renderFeedback(answer));
    }
    if (foot.firstChild) {
      turn.appendChild(foot);
    }
    if (answer.buttons.length) {
      var group = el("div", { className: "cc-buttons", role: "group", "aria-label": t.suggestions });
      answer.buttons.forEach(function (button) {
        var chip = el("button", { type: "button", className: "cc-chip" }, button.title);
        chip.addEventListener("click", function () {
          self.deliverNew(button.payload, button.title);
          self.input.focus();
        });
        group.appendChild(chip);
      });
      turn.appendChild(group);
    }
    return turn;
  };

  Widget.prototype.renderCrisis = function (resources) {
    var t = this.texts;
    var box = el("div", { className: "cc-crisis" });
    box.appendChild(el("p", { className: "cc-crisis-title" }, t.crisisTitle));
    var list = el("ul", { className: "cc-crisis-list" });
    resources.forEach(function (resource) {
      var item = el("li", { className: "cc-crisis-item" });
      var href = telHref(resource.phone);
      var about = el("div", { className: "cc-crisis-about" });
      about.appendChild(el("strong", { className: "cc-crisis-name" }, resource.name || ""));
      if (resource.when) {
        about.appendChild(el("span", { className: "cc-crisis-when" }, resource.when));
      }
      item.appendChild(about);
      if (href) {
        var call = el("a", { className: "cc-call", href: href });
        call.appendChild(icon("phone"));
        call.appendChild(document.createTextNode(t.call + " " + String(resource.phone)));
        item.appendChild(call);
      }
      list.appendChild(item);
    });
    box.appendChild(list);
    return box;
  };

  /** Citations grouped by the work they cite, in order: one entry per article or paper,
   *  with every quote from it beneath its name. */
  function groupCitations(citations) {
    var groups = [];
    var byKey = {};
    citations.forEach(function (citation) {
      var key = [citation.kind || "other", citation.url || "", citation.doi || "",
        citation.title || ""].join("\u0000");
      var group = byKey[key];
      if (!group) {
        group = byKey[key] = { citation: citation, quotes: [] };
        groups.push(group);
      }
      if (citation.quote && group.quotes.indexOf(citation.quote) < 0) {
        group.quotes.push(citation.quote);
      }
    });
    return groups;
  }

  Widget.prototype.renderSources = function (citations) {
    var t = this.texts;
    var groups = groupCitations(citations);
    var count = groups.reduce(function (total, group) {
      return total + Math.max(group.quotes.length, 1);
    }, 0);
    // A disclosure: open on a wide screen, one tappable line ("Sources (3)") on a phone.
    var section = el("details", { className: "cc-sources", role: "group", "aria-label": t.sources });
    section.open = !(window.matchMedia && window.matchMedia("(max-width: 480px)").matches);
    section.appendChild(el("summary", { className: "cc-sources-title" },
      t.sourcesCount.replace("{count}", String(count))));
    var list = el("ul", { className: "cc-source-list" });
    groups.forEach(function (group) {
      var citation = group.citation;
      var item = el("li", { className: "cc-source cc-source-" + (citation.kind || "other") });
      if (citation.kind === "paper") {
        var doiUrl = citation.doi ?
          "https://doi.org/" + String(citation.doi).split("/").map(encodeURIComponent).join("/") :
          citation.url;
        var byline = [citation.authors, citation.year ? "(" + citation.year + ")" : ""]
          .filter(Boolean).join(" ");
        if (byline) {
          item.appendChild(el("span", { className: "cc-source-meta" }, byline + ". "));
        }
        item.appendChild(link(citation.url || doiUrl, citation.title || doiUrl, "cc-source-title"));
        if (citation.journal) {
          item.appendChild(document.createTextNode(". "));
          item.appendChild(el("em", {}, citation.journal));
        }
        if (citation.doi) {
          item.appendChild(document.createTextNode(". "));
          item.appendChild(link(doiUrl, t.doiPrefix + citation.doi, "cc-doi"));
        }
      } else {
        item.appendChild(link(citation.url, citation.title || citation.url, "cc-source-title"));
        var meta = [citation.publisher, formatDate(citation.date)].filter(Boolean).join(", ");
        if (meta) {
          item.appendChild(el("span", { className: "cc-source-meta" }, " \u2014 " + meta));
        }
      }
      group.quotes.forEach(function (quote) {
        item.appendChild(el("blockquote", { className: "cc-quote" }, "\u201c" + quote + "\u201d"));
      });
      list.appendChild(item);
    });
    section.appendChild(list);
    return section;
  };

  Widget.prototype.renderFeedback = function (answer) {
    var self = this;
    var t = this.texts;
    var group = el("div", { className: "cc-feedback", role: "group", "aria-label": t.feedbackQuestion });
    [["up", t.helpful], ["down", t.notHelpful]].forEach(function (choice) {
      var button = el("button", {
        type: "button", className: "cc-thumb cc-thumb-" + choice[0], "aria-label": choice[1],
        title: choice[1], "aria-pressed": String(answer.feedback === choice[0]),
        "data-value": choice[0]
      });
      button.appendChild(icon("thumb", choice[0] === "down" ? "cc-flip" : ""));
      button.addEventListener("click", function () {
        if (answer.feedback !== choice[0]) {
          self.sendFeedback(answer, choice[0], group);
        }
      });
      group.appendChild(button);
    });
    group.appendChild(el("span", { className: "cc-feedback-status", role: "status" }));
    return group;
  };

  Widget.prototype.scrollToEnd = function () {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  };

  /** Long answers are read from their start (with the question above them, when it is
   *  there); short ones leave the view at the end. */
  Widget.prototype.scrollToAnswer = function (node) {
    var before = node.previousElementSibling;
    var start = before && before.classList.contains("cc-turn-user") ? before : node;
    if (node.offsetTop + node.offsetHeight - start.offsetTop > this.scroller.clientHeight) {
      start = node;
    }
    var top = start.offsetTop - 8;
    var bottom = this.scroller.scrollHeight - this.scroller.clientHeight;
    this.scroller.scrollTop = Math.min(top, bottom);
  };

  // ---------------------------------------------------------------- start

  /** Without crypto the widget says it cannot start instead of making a guessable id. */
  function refuseToStart(config) {
    var notice = el("p", { className: "cc-unavailable", role: "alert" }, config.texts.noCrypto);
    document.body.appendChild(notice);
    window.ClinicChat = { loaded: true, unavailable: true };
  }

  function start() {
    var config = readConfig();
    if (!hasCrypto()) {
      refuseToStart(config);
      return;
    }
    var widget = new Widget(config);
    widget.mount();
    widget.loadSettings();
    window.ClinicChat = {
      loaded: true,
      open: function () { widget.open(true); },
      close: function () { widget.close(false); },
      restart: function () { widget.restart(); }
    };
  }

  window.ClinicChat = { loaded: true };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
