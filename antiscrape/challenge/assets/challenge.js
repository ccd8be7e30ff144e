/* antiscrape challenge page: runs the proof-of-work in Web Workers, shows progress, answers. */
(function () {
  "use strict";
  var form = document.getElementById("as-answer");
  var live = document.getElementById("as-live");
  var status = document.getElementById("as-status");
  var bar = document.getElementById("as-progress");
  var data = form.dataset;
  var difficulty = parseInt(data.difficulty, 10) || 0;
  var waitMs = Math.round(parseFloat(data.wait) * 1000) || 0;
  var announced = 0;
  live.hidden = false;

  function say(text) { status.textContent = text; }

  // Automation the page can see: sent with the answer, kept in the signed clearance, so an
  // automated browser's clearance keeps its automation budget (codes: challenge/traits.py).
  function traits() {
    var out = [];
    var nav = window.navigator;
    var ua = nav.userAgent || "";
    var uaData = nav.userAgentData;
    try {
      if (nav.webdriver === true) out.push("webdriver");
      // (Not the zero-sized outer window of old headless builds: some WebViews report it too.)
      if (/HeadlessChrome/.test(ua)) out.push("headless");
      var chrome = /\b(?:Chrome|Chromium)\/(\d+)/.exec(ua);
      // userAgentData exists in secure contexts of Chromium 90+ only; Chrome on iOS is WebKit,
      // and Android's WebView (in-app browsers, "; wv)") gained it later than Chrome did.
      var chromium = chrome && parseInt(chrome[1], 10) >= 90 &&
        !/\b(?:CriOS|EdgiOS)\//.test(ua) && !/; wv\)/.test(ua);
      if (chromium && window.isSecureContext) {
        if (!uaData) {
          out.push("no-ua-data");
        } else {
          var engine = null;
          (uaData.brands || []).forEach(function (b) {
            if (b.brand === "Chromium") engine = parseInt(b.version, 10);
            if (/Headless/.test(b.brand)) out.push("headless");
          });
          if (engine === null) out.push("ua-data-brands");
          else if (Math.abs(engine - parseInt(chrome[1], 10)) > 1) out.push("ua-data-version");
        }
      } else if (!chrome && uaData) {
        out.push("ua-data-unexpected");
      }
    } catch (err) {
      // A property that throws tells nothing for sure: report what was seen so far.
    }
    return out.join(".");
  }

  function answer(nonce) {
    bar.value = 1;
    say("Done. Taking you to the page\u2026");
    form.action = data.verify + "?t=" + encodeURIComponent(data.token) + "&n=" + nonce +
      "&a=" + encodeURIComponent(traits());
    form.submit();
  }

  function fail(message) {
    var help = document.getElementById("as-help");
    say(message);
    help.hidden = false;
  }

  if (difficulty === 0) {
    var begun = Date.now();
    var tick = setInterval(function () {
      var share = Math.min(1, (Date.now() - begun) / Math.max(waitMs, 1));
      bar.value = share;
      if (share >= 1) { clearInterval(tick); answer(0); }
    }, 100);
    return;
  }

  if (!window.Worker) {
    fail("Your browser cannot run the check (Web Workers are missing).");
    return;
  }

  var count = Math.max(1, Math.min(navigator.hardwareConcurrency || 1, 4));
  var expected = Math.pow(2, difficulty);
  var done = new Array(count).fill(0);
  var workers = [];
  var finished = false;

  function stopAll() { workers.forEach(function (w) { w.terminate(); }); }

  function onMessage(index, event) {
    var msg = event.data || {};
    if (finished) return;
    if (msg.type === "progress") {
      done[index] = msg.hashes;
      var total = done.reduce(function (a, b) { return a + b; }, 0);
      // The chance of having found an answer after `total` tries; never claims 100%.
      var share = Math.min(0.99, 1 - Math.exp(-total / expected));
      bar.value = share;
      var quarter = Math.floor(share * 4);
      if (quarter > announced) {
        announced = quarter;
        say("Working\u2026 about " + quarter * 25 + "% done.");
      }
    } else if (msg.type === "done") {
      finished = true;
      stopAll();
      answer(msg.nonce);
    } else if (msg.type === "error") {
      finished = true;
      stopAll();
      fail("The check stopped with an error.");
    }
  }

  try {
    for (var i = 0; i < count; i++) {
      var worker = new Worker(data.worker);
      worker.onmessage = onMessage.bind(null, i);
      worker.onerror = function () {
        if (!finished) { finished = true; stopAll(); fail("The check could not start."); }
      };
      workers.push(worker);
      worker.postMessage({type: "solve", seed: data.seed, difficulty: difficulty,
                          start: i, step: count, engine: "auto"});
    }
    say("Working\u2026");
  } catch (err) {
    fail("The check could not start.");
  }
})();
