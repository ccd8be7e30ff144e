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

  function answer(nonce) {
    bar.value = 1;
    say("Done. Taking you to the page\u2026");
    form.action = data.verify + "?t=" + encodeURIComponent(data.token) + "&n=" + nonce;
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
