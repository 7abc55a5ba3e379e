// testwerk web UI: live updates over Server-Sent Events. Every element that can change
// carries its stream in data-live; pages work without this script (a reload shows the same).
"use strict";
(function () {
  function listen(url, handlers) {
    const source = new EventSource(url);
    for (const [name, fn] of Object.entries(handlers)) {
      source.addEventListener(name, (e) => fn(JSON.parse(e.data), source));
    }
    return source;
  }

  // The executions list: the first page's rows as the store has them now.
  const rows = document.getElementById("rows");
  if (rows && rows.dataset.live) {
    listen(rows.dataset.live, {
      list(d) {
        rows.innerHTML = d.rows;
        const total = document.getElementById("total");
        if (total) total.textContent = d.total;
      },
    });
  }

  // An execution: status, steps and new log lines; the log follows the end while the
  // reader is at the end.
  const log = document.getElementById("log");
  const live = log && (log.dataset.live || log.dataset.status);
  if (live) {
    const status = document.getElementById("status");
    const steps = document.getElementById("steps");
    const reason = document.getElementById("reason");
    const took = document.getElementById("took");
    listen(live, {
      status(d) {
        status.innerHTML = d.badge;
        if (reason) reason.textContent = d.reason;
        if (took) took.textContent = d.took;
        document.body.dataset.final = d.final ? "1" : "";
      },
      steps(d) {
        steps.innerHTML = d.html;
      },
      log(d) {
        const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
        log.insertAdjacentHTML("beforeend", d.html);
        if (atEnd) log.scrollTop = log.scrollHeight;
      },
      end(d, source) {
        source.close();
        document.body.dataset.final = "1";
        // The buttons that only a running execution has go.
        for (const f of document.querySelectorAll('.buttons form[action*="/control/"]')) f.remove();
      },
    });
  }

  // Search hits: highlight the text searched for.
  const q = new URLSearchParams(location.search).get("q");
  if (q) {
    const needle = q.toLowerCase();
    for (const span of document.querySelectorAll(".log.hits .l > span")) {
      const text = span.textContent;
      const at = text.toLowerCase().indexOf(needle);
      if (at < 0) continue;
      span.textContent = "";
      span.append(text.slice(0, at));
      const mark = document.createElement("mark");
      mark.textContent = text.slice(at, at + q.length);
      span.append(mark, text.slice(at + q.length));
    }
  }
})();
