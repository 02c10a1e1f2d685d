// kb serve's page: search, topic cards, paths and the graph around a topic, kept live.
// Every piece of note text reaches the page through textContent (or vis-network's canvas),
// never as markup; the only links made are obsidian:// ones built from encoded parts.
(function () {
  "use strict";

  const app = (window.kbApp = {
    ready: false, // the first view is drawn (the bench and the tests wait for it)
    version: 0, // kb's data as the page last showed it (the server counts refreshes)
    updates: 0, // live updates applied
    searches: 0, // search answers shown
    topic: null, // the node id of the open card
    expanded: [], // nodes whose neighbours are drawn, in order
    network: null,
    nodes: null,
    edges: null,
    timings: {},
  });
  const $ = (id) => document.getElementById(id);
  const enc = encodeURIComponent;
  let styles = { nodes: {}, edges: {}, options: {} };
  let vaultName = "";

  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  // What the page says when the server does not answer (fetch only says "Failed to fetch").
  function downMessage() {
    const port = location.port ? " --port " + location.port : "";
    return (
      "kb serve is not answering: it was stopped (or this computer slept). Start it again " +
      "from a terminal (kb serve" + port + ", in the vault's folder or with --vault); " +
      "this page reconnects by itself."
    );
  }

  let down = false;

  function serverDown(isDown) {
    if (isDown === down) return;
    down = isDown;
    const banner = $("kb-down");
    banner.textContent = isDown ? downMessage() : "";
    banner.hidden = !isDown;
  }

  async function get(url) {
    let r;
    try {
      r = await fetch(url, { headers: { Accept: "application/json" } });
    } catch (_) {
      serverDown(true); // the banner says how to start it again
      throw new Error("kb serve is not answering: it was stopped (see above).");
    }
    serverDown(false);
    let data;
    try {
      data = await r.json();
    } catch (_) {
      data = { error: r.status + " " + r.statusText };
    }
    if (!r.ok) {
      const err = new Error(data.error || String(r.status));
      err.data = data;
      throw err;
    }
    return data;
  }

  // -- places: path:line, open in Obsidian, read here -------------------------------------

  function obsidianUrl(path) {
    const file = path.replace(/\.md$/i, "");
    return "obsidian://open?vault=" + enc(vaultName) + "&file=" + enc(file);
  }

  function place(path, line) {
    const span = el("span", "kb-place");
    if (!path) return span;
    const where = el("a", "kb-open", line ? path + ":" + line : path);
    where.href = "#";
    where.title = "Read the note here";
    where.addEventListener("click", (ev) => {
      ev.preventDefault();
      ev.stopPropagation();
      openNote(path, line);
    });
    const obs = el("a", "kb-obsidian", "Obsidian");
    obs.href = obsidianUrl(path);
    obs.title = "Open in Obsidian";
    obs.addEventListener("click", (ev) => ev.stopPropagation());
    span.append(where, obs);
    return span;
  }

  function topicButton(id, label) {
    const b = el("button", "kb-topic", label || id);
    b.type = "button";
    b.dataset.id = id;
    b.addEventListener("click", () => openTopic(id));
    return b;
  }

  function marked(parts) {
    const p = el("div", "kb-snippet");
    for (const [text, hit] of parts || []) p.append(hit ? el("mark", null, text) : text);
    return p;
  }

  // -- the URL: what is shown, so that reload, back and a bookmark come back to it -----------
  // The hash holds q (the query), topic (the open card) or from and to (the open path).

  function urlState() {
    return new URLSearchParams(location.hash.slice(1));
  }

  function setUrl(changes, push) {
    const s = urlState();
    for (const [k, v] of Object.entries(changes)) {
      if (v) s.set(k, v);
      else s.delete(k);
    }
    const hash = s.toString() ? "#" + s.toString() : "";
    if (hash === location.hash) return;
    history[push ? "pushState" : "replaceState"](null, "", hash || location.pathname);
  }

  // Show what the URL says (on start, and when back or forward changes it).
  async function applyUrl() {
    const s = urlState();
    const q = s.get("q") || "";
    const jobs = [];
    if ($("kb-q").value !== q) {
      $("kb-q").value = q;
      jobs.push(runSearch());
    }
    const from = s.get("from");
    const to = s.get("to");
    const topic = s.get("topic");
    if (from && to) {
      $("kb-from").value = from;
      $("kb-to").value = to;
      jobs.push(showPath(from, to, { fromUrl: true }));
    } else if (topic && topic !== $("kb-card").dataset.id) { // (a path card has none)
      jobs.push(openTopic(topic, { fromUrl: true }));
    } else if (!topic && app.topic) {
      cardSeq += 1; // back to before any card was opened
      app.topic = null;
      $("kb-card").replaceChildren();
      delete $("kb-card").dataset.id;
    }
    await Promise.allSettled(jobs);
  }

  // -- search -------------------------------------------------------------------------------

  let searchSeq = 0;
  let searchTimer = null;

  function scheduleSearch() {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(runSearch, 120);
  }

  const SHOWN = 30; // hits listed for a query

  async function runSearch() {
    const q = $("kb-q").value;
    const seq = ++searchSeq;
    const list = $("kb-hits");
    const head = $("kb-hits-head");
    setUrl({ q: q.trim() ? q : null }, false); // typing is not worth a history entry each key
    if (!q.trim()) {
      list.replaceChildren();
      head.textContent = "";
      return;
    }
    let hits;
    // The topic the query names, if any (ReLU), is offered above the hits: its card is
    // what a person typing a name usually wants.
    const topic = get("/api/topic/" + enc(q.trim()) + "?limit=1").catch(() => null);
    try {
      hits = await get("/api/search?limit=" + (SHOWN + 1) + "&q=" + enc(q));
    } catch (e) {
      if (seq !== searchSeq) return;
      list.replaceChildren();
      head.replaceChildren(el("span", "kb-error", e.message));
      return;
    }
    const named = await topic;
    if (seq !== searchSeq) return; // a later keystroke's answer wins
    const more = hits.length > SHOWN;
    hits = hits.slice(0, SHOWN);
    head.textContent = !hits.length ? "No hits." :
      more ? "The first " + SHOWN + " hits (refine the query for others)" : hits.length + " hit(s)";
    if (!hits.length && !(named && named.id)) {
      // A typo: offer what kb search offers (a word of the notes close to the unknown one).
      let tries = [];
      try {
        tries = (await get("/api/suggest?q=" + enc(q))).did_you_mean || [];
      } catch (_) {
        // no suggestion: "No hits." says enough
      }
      if (seq !== searchSeq) return;
      if (tries.length) {
        head.append(" Did you mean: ");
        for (const t of tries) {
          const b = el("button", "kb-suggest", t);
          b.type = "button";
          b.addEventListener("click", () => {
            $("kb-q").value = t;
            runSearch();
          });
          head.append(b, " ");
        }
      }
    }
    const rows = [];
    if (named && named.id && named.kind !== "not a topic") {
      const li = el("li", "kb-hit kb-hit-topic");
      li.append(el("div", "kb-hit-title", "Topic: " + named.label + " (" + named.kind + ")"));
      li.addEventListener("click", () => openTopic(named.id));
      rows.push(li);
    }
    list.replaceChildren(
      ...rows,
      ...hits.map((h) => {
        const li = el("li", "kb-hit");
        li.append(el("div", "kb-hit-title", h.title));
        if (h.heading && h.heading.length > 1) {
          li.append(el("div", "kb-crumbs", h.heading.join(" › ")));
        }
        li.append(marked(h.highlight), place(h.path, h.line));
        li.addEventListener("click", () => {
          for (const other of list.children) other.classList.remove("active");
          li.classList.add("active");
          openTopic(h.path);
        });
        return li;
      })
    );
    [...list.children].forEach((li, i) => {
      li.id = "kb-hit-" + i;
      li.setAttribute("role", "option");
    });
    $("kb-q").removeAttribute("aria-activedescendant");
    app.searches += 1;
  }

  // Arrow keys in the search box move through the hits; Enter opens the one marked.
  function moveHit(step) {
    const items = [...$("kb-hits").children];
    if (!items.length) return;
    let i = items.findIndex((li) => li.classList.contains("kb-current"));
    if (i < 0) i = step > 0 ? 0 : items.length - 1;
    else i = Math.min(items.length - 1, Math.max(0, i + step));
    items.forEach((li, j) => {
      li.classList.toggle("kb-current", j === i);
      li.setAttribute("aria-selected", j === i ? "true" : "false");
    });
    items[i].scrollIntoView({ block: "nearest" });
    $("kb-q").setAttribute("aria-activedescendant", items[i].id);
  }

  function searchKeys(ev) {
    if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
      ev.preventDefault(); // not the caret's move to the start or end
      moveHit(ev.key === "ArrowDown" ? 1 : -1);
    } else if (ev.key === "Enter") {
      const current = $("kb-hits").querySelector("li.kb-current") || $("kb-hits").firstChild;
      if (current) {
        ev.preventDefault();
        current.click();
      }
    } else if (ev.key === "Escape") {
      for (const li of $("kb-hits").children) li.classList.remove("kb-current");
      $("kb-q").removeAttribute("aria-activedescendant");
    }
  }

  // -- the topic card ---------------------------------------------------------------------

  function listing(card, title, items, row) {
    if (!items || !items.length) return;
    card.append(el("h3", null, title));
    const ul = el("ul", "kb-list");
    for (const e of items) {
      const li = el("li");
      row(li, e);
      ul.append(li);
    }
    card.append(ul);
  }

  function sentence(text) {
    return el("span", "kb-sentence", text ? "«" + text + "»" : "");
  }

  let cardSeq = 0;

  async function openTopic(name, options) {
    const opts = options || {};
    const seq = ++cardSeq;
    const card = $("kb-card");
    let data;
    try {
      data = await get("/api/topic/" + enc(name));
    } catch (e) {
      if (seq !== cardSeq) return;
      card.replaceChildren(el("h2", null, name), el("p", "kb-error", e.message));
      const dym = (e.data && e.data.did_you_mean) || [];
      if (dym.length) {
        card.append(el("h3", null, "Did you mean"));
        for (const d of dym) card.append(topicButton(d, d), document.createTextNode("  "));
      }
      return;
    }
    if (seq !== cardSeq) return;
    renderCard(data);
    if (data.kind === "not a topic") return;
    if (!opts.fromUrl && !opts.refresh) setUrl({ topic: data.id, from: null, to: null }, true);
    if (!opts.keepGraph) {
      app.topic = data.id;
      await showGraph(data.id);
    }
  }

  function renderCard(c) {
    const card = $("kb-card");
    card.replaceChildren();
    const h = el("h2", null, c.label);
    card.append(h);
    if (c.kind === "not a topic") {
      card.append(el("p", "kb-muted", "Not a topic, but the notes say it:"));
      if (c.did_you_mean && c.did_you_mean.length) {
        const p = el("p", "kb-muted", "Did you mean: ");
        for (const d of c.did_you_mean) p.append(topicButton(d, d), " ");
        card.append(p);
      }
      listing(card, "Found in", c.found_in, (li, e) => {
        li.append(el("div", "kb-crumbs", (e.heading || [e.title]).join(" › ")));
        li.append(el("span", "kb-sentence", e.snippet), place(e.path, e.line));
      });
      return;
    }
    card.dataset.id = c.id;
    const badge = el("span", "kb-badge", c.kind);
    const style = styles.nodes[c.kind] || styles.nodes.other;
    if (style) badge.style.background = style.color;
    const meta = el("div");
    meta.append(badge, place(c.path, c.line));
    card.append(meta);
    if (c.snippet) card.append(el("div", "kb-lead", c.snippet));
    if (c.aliases && c.aliases.length) {
      card.append(el("h3", null, "Aliases"), el("div", null, c.aliases.join(", ")));
    }
    if (c.tags && c.tags.length) {
      card.append(el("h3", null, "Tags"));
      const tags = el("div", "kb-tags");
      for (const t of c.tags) tags.append(el("span", "kb-tag", "#" + t));
      card.append(tags);
    }
    const up = (c.parents || []).concat(c.children || []);
    listing(card, "Parents and children", up, (li, e) => {
      li.append(topicButton(e.id, e.label), el("span", "kb-muted", "  " + e.kind));
    });
    listing(card, "Defined in", c.defined_in, (li, e) => {
      li.append(el("div", "kb-crumbs", (e.heading || []).join(" › ")), place(e.path, e.line));
    });
    listing(card, "Related topics", c.related, (li, e) => {
      li.append(topicButton(e.id, e.label), el("span", "kb-muted", "  " + e.kind));
      const ev = (e.evidence || [])[0];
      if (ev) li.append(sentence(ev.text), place(ev.path, ev.line));
    });
    listing(card, "Backlinks", c.backlinks, (li, e) => {
      li.append(topicButton(e.source, e.label), sentence(e.context), place(e.path, e.line));
    });
    listing(card, "Unlinked mentions", c.unlinked_mentions, (li, e) => {
      li.append(topicButton(e.source, e.label), sentence(e.context), place(e.path, e.line));
    });
    listing(card, "Links out", c.links_out, (li, e) => {
      li.append(
        e.path ? topicButton(e.id, e.target) : el("span", "kb-muted", e.target + " (missing)"),
        sentence(e.context),
        place(e.source, e.line)
      );
    });
    listing(card, "Mentions", c.mentions_out, (li, e) => {
      li.append(topicButton(e.id, e.target), sentence(e.context), place(e.source, e.line));
    });
    if (c.more) {
      const n = Object.values(c.more).reduce((a, b) => a + b, 0);
      card.append(el("p", "kb-muted", "… and " + n + " more entries (see kb show)"));
    }
  }

  // -- reading a note -------------------------------------------------------------------------

  async function openNote(path, line) {
    const card = $("kb-card");
    let n;
    try {
      n = await get("/api/note/" + path.split("/").map(enc).join("/"));
    } catch (e) {
      card.replaceChildren(el("h2", null, path), el("p", "kb-error", e.message));
      return;
    }
    card.replaceChildren();
    const back = el("button", null, "← card");
    back.type = "button";
    back.addEventListener(
      "click",
      () => app.topic && openTopic(app.topic, { keepGraph: true, refresh: true })
    );
    card.append(back, el("h2", null, n.title), place(n.path, line));
    const pre = el("div", "kb-note");
    let here = null;
    n.text.split("\n").forEach((text, i) => {
      const row = el("div", null, text || " ");
      if (n.line_start + i === line) {
        row.className = "here";
        here = row;
      }
      pre.append(row);
    });
    card.append(pre);
    if (n.truncated) card.append(el("p", "kb-muted", "(cut: " + n.chars + " characters)"));
    if (here) here.scrollIntoView({ block: "center" });
  }

  // -- paths ----------------------------------------------------------------------------------

  async function findPath(ev) {
    ev.preventDefault();
    await showPath($("kb-from").value, $("kb-to").value, {});
  }

  async function showPath(a, b, opts) {
    const card = $("kb-card");
    let p;
    try {
      p = await get("/api/path?from=" + enc(a) + "&to=" + enc(b));
    } catch (e) {
      card.replaceChildren(el("h2", null, "Path"), el("p", "kb-error", e.message));
      return;
    }
    card.replaceChildren(el("h2", null, a + " → " + b));
    card.dataset.id = "";
    if (!opts.fromUrl) setUrl({ from: a, to: b, topic: null }, true);
    if (p.hops === null) {
      card.append(el("p", "kb-muted", "Not connected."));
      return;
    }
    if (!p.hops.length) {
      card.append(el("p", "kb-muted", "The same topic."));
      return;
    }
    card.append(el("p", "kb-muted", p.hops.length + " hop(s)"));
    let at = p.from;
    listing(card, "Hops", p.hops, (li, h) => {
      const forward = h.source === at;
      const [x, y] = forward ? [h.source, h.target] : [h.target, h.source];
      const [xl, yl] = forward ? [h.source_label, h.target_label] : [h.target_label, h.source_label];
      li.append(
        topicButton(x, xl),
        el("span", "kb-muted", forward ? "  –" + h.kind + "→  " : "  ←" + h.kind + "–  "),
        topicButton(y, yl),
        sentence(h.evidence.text),
        place(h.evidence.path, h.evidence.line)
      );
      at = y;
    });
    listing(card, "Also joined by", p.also, (li, v) => {
      li.append(topicButton(v.via, v.label));
      for (const e of v.evidence) {
        li.append(sentence(e.evidence.text), place(e.evidence.path, e.evidence.line));
      }
    });
    // The path in the graph: its topics, with the neighbours of its ends.
    const ids = [p.from];
    for (const h of p.hops) ids.push(h.source, h.target);
    await showGraph(p.from, [...new Set(ids)].filter((i) => i !== p.from));
  }

  // -- the graph ------------------------------------------------------------------------------

  const MAX_LABEL = 40;

  function nodeRecord(n, focus) {
    const label = n.label.length > MAX_LABEL ? n.label.slice(0, MAX_LABEL - 1) + "…" : n.label;
    const group = styles.nodes[n.kind] ? n.kind : "other";
    const r = { id: n.id, label: label, group: group, kind: n.kind, path: n.path, line: n.line };
    r.size = n.id === focus ? 24 : 12;
    r.font = { size: n.id === focus ? 20 : 13 };
    return r;
  }

  function edgeRecord(l) {
    const s = styles.edges[l.kind] || styles.edges.other || {};
    const count = l.count || 1;
    return {
      id: l.source + "\u0000" + l.target + "\u0000" + l.kind,
      from: l.source,
      to: l.target,
      kind: l.kind,
      count: count,
      evidence: l.evidence,
      color: { color: s.color, opacity: 0.8 },
      width: (s.width || 1) * (1 + Math.log(count) / 2),
      dashes: s.dashes || false,
      arrows: s.arrows || "",
    };
  }

  function ensureNetwork() {
    if (app.network) return;
    app.nodes = new vis.DataSet();
    app.edges = new vis.DataSet();
    const options = JSON.parse(JSON.stringify(styles.options || {}));
    app.network = new vis.Network($("kb-graph"), { nodes: app.nodes, edges: app.edges }, options);
    app.network.on("click", (params) => {
      if (params.nodes.length) {
        const id = params.nodes[0];
        expand(id);
        openTopic(id, { keepGraph: true }).then(() => {
          app.topic = id;
        });
      } else if (params.edges.length) {
        showEdge(app.edges.get(params.edges[0]));
      }
    });
    app.network.on("stabilizationIterationsDone", () => {
      app.network.setOptions({ physics: { enabled: false } });
      app.stable = true;
    });
  }

  function showEdge(e) {
    if (!e) return;
    const card = $("kb-card");
    const from = app.nodes.get(e.from);
    const to = app.nodes.get(e.to);
    card.replaceChildren(el("h2", null, e.kind));
    card.append(
      topicButton(e.from, from ? from.label : e.from),
      el("span", "kb-muted", "  →  "),
      topicButton(e.to, to ? to.label : e.to),
      el("p", "kb-muted", e.count + " place(s) say it; the first:"),
      sentence(e.evidence && e.evidence.text),
      place(e.evidence && e.evidence.path, e.evidence && e.evidence.line)
    );
  }

  function relayout(near) {
    app.stable = false;
    app.network.setOptions({ physics: { enabled: true } });
    app.network.stabilize(120);
    if (near) app.network.selectNodes([near]);
  }

  async function fetchGraph(id) {
    return get("/api/graph?depth=1&topic=" + enc(id));
  }

  // Add what ``g`` draws; nodes new to the graph start around ``near``.
  function merge(g, near) {
    const pos = near && app.network ? app.network.getPositions([near])[near] : null;
    const add = [];
    for (const n of g.nodes) {
      if (app.nodes.get(n.id)) continue;
      const r = nodeRecord(n, app.expanded[0]);
      if (pos) {
        r.x = pos.x + (Math.random() - 0.5) * 160;
        r.y = pos.y + (Math.random() - 0.5) * 160;
      }
      add.push(r);
    }
    app.nodes.add(add);
    app.edges.update(g.links.map(edgeRecord));
    return add.length;
  }

  async function showGraph(focus, alsoExpand) {
    ensureNetwork();
    $("kb-graph-note").textContent =
      "Click a node to grow the graph; click an edge for its evidence.";
    let g;
    try {
      g = await fetchGraph(focus);
    } catch (e) {
      $("kb-graph-note").textContent = e.message;
      return;
    }
    app.expanded = [focus];
    app.nodes.clear();
    app.edges.clear();
    merge(g, null);
    for (const id of alsoExpand || []) {
      if (app.expanded.includes(id)) continue;
      app.expanded.push(id);
      try {
        merge(await fetchGraph(id), null);
      } catch (_) {
        // a topic gone meanwhile: the rest of the path is still worth drawing
      }
    }
    relayout(focus);
    app.network.fit();
    app.shown = g.focus;
  }

  async function expand(id) {
    if (app.expanded.includes(id)) return;
    app.expanded.push(id);
    let g;
    try {
      g = await fetchGraph(id);
    } catch (e) {
      $("kb-graph-note").textContent = e.message;
      return;
    }
    const added = merge(g, id);
    if (added) relayout(id);
    app.expandedCount = (app.expandedCount || 0) + 1;
  }

  // Draw again every expanded node's neighbours, as kb's data now says.
  async function redrawGraph() {
    if (!app.network || !app.expanded.length) return;
    const nodes = new Map();
    const links = new Map();
    const kept = [];
    for (const id of app.expanded.slice(0, 30)) {
      let g;
      try {
        g = await fetchGraph(id);
      } catch (_) {
        continue; // the topic is gone (its note removed or renamed)
      }
      kept.push(id);
      for (const n of g.nodes) nodes.set(n.id, n);
      for (const l of g.links) links.set(l.source + "\u0000" + l.target + "\u0000" + l.kind, l);
    }
    app.expanded = kept;
    const focus = kept[0];
    app.nodes.remove(app.nodes.getIds().filter((i) => !nodes.has(i)));
    app.edges.remove(app.edges.getIds().filter((i) => !links.has(i)));
    const fresh = [...nodes.values()].filter((n) => !app.nodes.get(n.id));
    app.nodes.update([...nodes.values()].map((n) => nodeRecord(n, focus)));
    app.edges.update([...links.values()].map(edgeRecord));
    if (fresh.length) relayout(null);
  }

  // -- live updates ---------------------------------------------------------------------------

  function listen() {
    const source = new EventSource("/api/events");
    const live = $("kb-live");
    let lost = false;
    source.addEventListener("open", () => {
      live.classList.add("on");
      serverDown(false);
    });
    source.addEventListener("error", () => {
      live.classList.remove("on");
      lost = true;
      serverDown(true); // the browser tries again on its own, every few seconds
    });
    source.addEventListener("hello", (ev) => {
      const v = JSON.parse(ev.data).version;
      // missed changes while away (a restarted server counts its versions from 1 again)
      if (app.ready && (v !== app.version || lost)) refreshAll(v);
      lost = false;
    });
    source.addEventListener("changed", (ev) => refreshAll(JSON.parse(ev.data).version));
  }

  let refreshing = Promise.resolve();

  function refreshAll(version) {
    refreshing = refreshing.then(async () => {
      const jobs = [];
      if ($("kb-q").value.trim()) jobs.push(runSearch());
      const card = $("kb-card").dataset.id;
      if (card && card === app.topic) {
        jobs.push(openTopic(app.topic, { keepGraph: true, refresh: true }));
      }
      jobs.push(redrawGraph());
      await Promise.allSettled(jobs);
      app.version = version;
      app.updates += 1;
    });
    return refreshing;
  }

  // -- start ----------------------------------------------------------------------------------

  async function start() {
    app.timings.start = performance.now();
    const status = await get("/api/status");
    styles = status.styles;
    vaultName = status.vault;
    app.version = status.version;
    $("kb-vault").textContent = status.vault;
    $("kb-vault").title = status.notes + " notes";
    document.title = status.vault + " · kb";
    $("kb-q").addEventListener("input", scheduleSearch);
    $("kb-q").addEventListener("keydown", searchKeys);
    $("kb-path").addEventListener("submit", findPath);
    window.addEventListener("popstate", () => applyUrl());
    listen();
    await applyUrl();
    app.timings.ready = performance.now();
    app.ready = true;
  }

  start().catch((e) => {
    $("kb-card").replaceChildren(el("p", "kb-error", "kb serve: " + e.message));
  });
})();
