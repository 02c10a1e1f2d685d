/* kb graph page: draws the JSON data island with vis-network.
   Note text (labels, snippets, evidence, paths, tags) only ever reaches the page through
   textContent or vis-network's plain-text tooltips (string titles are set as innerText),
   never as HTML; links are made clickable only for the obsidian: and file: schemes. */
(function () {
  "use strict";

  const data = JSON.parse(document.getElementById("kb-data").textContent);
  const meta = data.meta;
  const $ = (id) => document.getElementById(id);

  const nodeKind = new Map(data.nodeKinds.map((k) => [k.kind, k]));
  const edgeKind = new Map(data.edgeKinds.map((k) => [k.kind, k]));
  const byId = new Map(data.nodes.map((n) => [n.id, n]));
  const edgeById = new Map(data.edges.map((e) => [e.id, e]));

  // Relationship names in the panel, seen from either end of an edge.
  const OUT = { contains: "contains", links_to: "links to", embeds: "embeds",
    mentions: "mentions", tagged: "tagged" };
  const IN = { contains: "in", links_to: "linked from", embeds: "embedded in",
    mentions: "mentioned in", tagged: "tag of" };

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function location(path, line) {
    if (!path) return "";
    return line ? path + ":" + line : path;
  }

  function kindLabel(n) {
    const k = nodeKind.get(n.group);
    return k ? (n.group === "other" && n.kind ? n.kind : k.label) : n.kind || "node";
  }

  /** Only obsidian: and file: URLs become links; anything else (javascript:, data:, …) is dropped. */
  function safeHref(url) {
    if (typeof url !== "string") return null;
    let parsed;
    try {
      parsed = new URL(url);
    } catch (err) {
      return null;
    }
    return parsed.protocol === "obsidian:" || parsed.protocol === "file:" ? url : null;
  }

  // ------------------------------------------------------------------ data -> vis records

  function edgeColor(e, opacity) {
    return { color: e.baseColor, highlight: "#c4b5fd", hover: "#c4b5fd", opacity };
  }

  const adjacency = new Map(data.nodes.map((n) => [n.id, []]));
  for (const e of data.edges) {
    const style = edgeKind.get(e.group) || {};
    const from = byId.get(e.from);
    const to = byId.get(e.to);
    e.width = style.width;
    e.dashes = style.dashes;
    e.baseColor = style.color;
    e.color = edgeColor(e, meta.edgeOpacity);
    // A plain string: vis-network shows it with innerText, so it cannot carry markup.
    let tip = (style.label || e.kind) + ": " + (from ? from.name : e.from) + " → " +
      (to ? to.name : e.to);
    if (e.text) tip += "\n“" + e.text + "”";
    if (e.path) tip += "\n" + location(e.path, e.line);
    e.title = tip;
    if (adjacency.has(e.from)) adjacency.get(e.from).push({ edge: e, other: e.to, out: true });
    if (adjacency.has(e.to) && e.to !== e.from) {
      adjacency.get(e.to).push({ edge: e, other: e.from, out: false });
    }
  }
  for (const n of data.nodes) {
    let tip = n.name + "\n" + kindLabel(n);
    if (n.path) tip += " · " + location(n.path, n.line);
    tip += " · " + n.degree + (n.degree === 1 ? " link" : " links");
    n.title = tip;
  }

  const timings = { scriptStartMs: performance.now() };
  const nodes = new vis.DataSet(data.nodes);
  const edges = new vis.DataSet(data.edges);
  const network = new vis.Network($("kb-graph"), { nodes, edges }, data.options);
  timings.networkMs = performance.now();

  const kbGraph = {
    network, nodes, edges, data, ready: false,
    timings,
    focusNode, findNodes, showPanel, hidePanel,
  };
  window.kbGraph = kbGraph;

  // ------------------------------------------------------------------ layout settles, then stops

  network.on("stabilizationProgress", (p) => {
    const pct = Math.round((100 * p.iterations) / p.total);
    $("kb-progress").textContent = pct + "%";
    $("kb-bar-fill").style.width = pct + "%";
  });
  network.once("stabilizationIterationsDone", settle);
  network.once("stabilized", settle);
  if (data.nodes.length === 0) settle();
  setTimeout(settle, 60000); // never leave the page behind the loading screen

  function settle() {
    if (kbGraph.ready) return;
    kbGraph.timings.layoutDoneMs = performance.now();
    network.setOptions({ physics: { enabled: false } });
    if (meta.focus && byId.has(meta.focus)) {
      nodes.update({ id: meta.focus, fixed: { x: false, y: false } });
    }
    centre(false);
    if (meta.focus && byId.has(meta.focus)) {
      network.selectNodes([meta.focus]);
      dim(meta.focus);
    }
    $("kb-loading").classList.add("done");
    kbGraph.timings.settledMs = performance.now();
    kbGraph.ready = true;
    document.body.dataset.ready = "true";
  }

  /** Show the topic in the middle; large graphs open zoomed in enough to read its neighbours. */
  function centre(animate) {
    const animation = animate ? { duration: 450, easingFunction: "easeInOutQuad" } : false;
    if (!meta.focus || !byId.has(meta.focus)) {
      network.fit({ animation });
      return;
    }
    network.fit({ animation: false });
    const fitScale = network.getScale();
    // Zoom to the topic and its neighbours (a local graph), never further out than "fit".
    network.fit({ nodes: [meta.focus, ...network.getConnectedNodes(meta.focus)], animation: false });
    const scale = Math.min(Math.max(network.getScale(), fitScale), 1.2);
    const position = network.getPositions([meta.focus])[meta.focus];
    network.moveTo({ position, scale, animation });
  }

  // ------------------------------------------------------------------ header, legend, filters

  const count = (n, one, many) => n.toLocaleString() + " " + (n === 1 ? one : many);
  $("kb-stats").textContent = count(meta.nodesShown, "node", "nodes") + " · " +
    count(meta.edgesShown, "link", "links");
  const said = [];
  if (meta.nodesOmitted > 0) {
    said.push("Showing " + (meta.focus ? "the nearest " : "the best-connected ") +
      meta.nodesShown.toLocaleString() + " of " + meta.nodesTotal.toLocaleString() + " nodes: " +
      meta.nodesOmitted.toLocaleString() + " were left out.");
  }
  if (meta.edgesOmitted > 0) {
    said.push("Each node keeps its strongest links: " + meta.edgesOmitted.toLocaleString() +
      " of the " + (meta.edgesShown + meta.edgesOmitted).toLocaleString() +
      " between the nodes shown were left out.");
  }
  if (said.length) {
    const notice = $("kb-notice");
    notice.textContent = said.join(" ");
    notice.hidden = false;
  }

  // Kinds the page starts with hidden (sections: the places of a topic, shown on demand).
  const hiddenNodeKinds = new Set(meta.hiddenKinds || []);
  const hiddenEdgeKinds = new Set();

  for (const k of data.nodeKinds) {
    const swatch = el("span", "kb-swatch kb-shape-" + k.shape + " kb-kind-" + k.kind);
    swatch.style.background = k.color;
    addFilter($("kb-node-kinds"), k, swatch, "kb-kind-" + k.kind, (on) => {
      on ? hiddenNodeKinds.delete(k.kind) : hiddenNodeKinds.add(k.kind);
      nodes.update(data.nodes.filter((n) => n.group === k.kind)
        .map((n) => ({ id: n.id, hidden: !on })));
      if (!on && openNode && byId.get(openNode).group === k.kind) hidePanel();
    });
  }
  for (const k of data.edgeKinds) {
    const swatch = el("span", "kb-line" + (k.arrows ? " kb-arrow" : ""));
    swatch.style.borderTopColor = k.color;
    swatch.style.borderLeftColor = k.color;
    swatch.style.borderTopStyle = k.dashes ? "dashed" : "solid";
    swatch.style.borderTopWidth = Math.max(1, Math.round(k.width * 1.2)) + "px";
    addFilter($("kb-edge-kinds"), k, swatch, "kb-edge-" + k.kind, (on) => {
      on ? hiddenEdgeKinds.delete(k.kind) : hiddenEdgeKinds.add(k.kind);
      edges.update(data.edges.filter((e) => e.group === k.kind)
        .map((e) => ({ id: e.id, hidden: !on })));
    });
  }
  if (!data.edgeKinds.length) $("kb-edge-kinds").hidden = true;

  function addFilter(fieldset, k, swatch, id, onChange) {
    const label = el("label");
    const box = el("input");
    box.type = "checkbox";
    box.checked = !(fieldset.id === "kb-node-kinds" && hiddenNodeKinds.has(k.kind));
    box.id = id;
    box.dataset.kind = k.kind;
    box.addEventListener("change", () => onChange(box.checked));
    label.append(box, swatch, el("span", "kb-kind-name", k.label), el("span", "kb-count", k.count));
    fieldset.append(label);
  }

  function showKind(kind) {
    if (!hiddenNodeKinds.has(kind)) return;
    const box = $("kb-kind-" + kind);
    box.checked = true;
    box.dispatchEvent(new Event("change"));
  }

  $("kb-fit").addEventListener("click", () => network.fit({ animation: { duration: 450 } }));
  if (!meta.focus || !byId.has(meta.focus)) $("kb-center").hidden = true;
  $("kb-center").addEventListener("click", () => {
    if (meta.focus && byId.has(meta.focus)) focusNode(meta.focus);
    else network.fit({ animation: { duration: 450 } });
  });

  // ------------------------------------------------------------------ search

  const searchKeys = data.nodes.map((n) => [n.name.toLocaleLowerCase(), n]);

  /** Nodes whose label contains the query, case-insensitively: exact, then prefix, then the rest. */
  function findNodes(query) {
    const q = String(query).trim().toLocaleLowerCase();
    if (!q) return [];
    const hits = [];
    for (const [key, n] of searchKeys) {
      const at = key.indexOf(q);
      if (at >= 0) hits.push([key === q ? 0 : at === 0 ? 1 : 2, n]);
    }
    hits.sort((a, b) => a[0] - b[0] || b[1].degree - a[1].degree ||
      a[1].name.length - b[1].name.length);
    return hits.map((h) => h[1]);
  }

  const search = $("kb-search");
  const results = $("kb-results");
  let matches = [];
  let active = 0;

  function renderResults() {
    results.replaceChildren();
    if (!search.value.trim()) {
      results.hidden = true;
      return;
    }
    if (!matches.length) {
      results.append(el("li", "kb-empty", "No node matches"));
    }
    matches.slice(0, 30).forEach((n, i) => {
      const li = el("li");
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", String(i === active));
      const swatch = el("span", "kb-swatch kb-shape-" + ((nodeKind.get(n.group) || {}).shape || "dot") +
        " kb-kind-" + n.group);
      swatch.style.background = (nodeKind.get(n.group) || {}).color || "#888";
      li.append(swatch, el("span", "kb-result-label", n.name), el("span", "kb-result-kind", kindLabel(n)));
      li.addEventListener("mousedown", (ev) => {
        ev.preventDefault();
        choose(n);
      });
      results.append(li);
    });
    results.hidden = false;
  }

  function choose(n) {
    results.hidden = true;
    search.blur();
    focusNode(n.id);
  }

  search.addEventListener("input", () => {
    matches = findNodes(search.value);
    active = 0;
    renderResults();
  });
  search.addEventListener("keydown", (ev) => {
    if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
      ev.preventDefault();
      const count = Math.min(matches.length, 30);
      if (count) active = (active + (ev.key === "ArrowDown" ? 1 : count - 1)) % count;
      renderResults();
    } else if (ev.key === "Enter") {
      ev.preventDefault();
      if (matches.length) choose(matches[Math.min(active, matches.length - 1)]);
    } else if (ev.key === "Escape") {
      search.value = "";
      matches = [];
      renderResults();
      search.blur();
    }
  });
  search.addEventListener("blur", () => {
    results.hidden = true;
  });
  search.addEventListener("focus", () => {
    if (search.value.trim()) renderResults();
  });

  // ------------------------------------------------------------------ selection and side panel

  const LABEL = data.options.nodes.font.color;
  const STROKE = data.options.nodes.font.strokeWidth;
  // In a crowd, faded labels are still noise: nearly hide them.
  const LABEL_DIM = `rgba(229, 231, 235, ${data.nodes.length > 300 ? 0.07 : 0.22})`;
  let openNode = null;
  let dimmed = false;

  function focusNode(id) {
    const n = byId.get(id);
    if (!n) return false;
    showKind(n.group);
    network.selectNodes([id]);
    network.focus(id, {
      scale: Math.max(network.getScale(), 1.0),
      animation: { duration: 450, easingFunction: "easeInOutQuad" },
    });
    showPanel(id);
    return true;
  }

  network.on("click", (p) => {
    if (p.nodes.length) showPanel(p.nodes[0]);
    else if (p.edges.length) showEdgePanel(p.edges[0]);
    else hidePanel();
  });

  $("kb-panel-close").addEventListener("click", () => {
    network.unselectAll();
    hidePanel();
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && document.activeElement !== search) {
      network.unselectAll();
      hidePanel();
    }
  });

  /** Fade everything but the node and its neighbours, as Obsidian's graph does. */
  function dim(id) {
    const keep = new Set([id, ...network.getConnectedNodes(id)]);
    const near = new Set(network.getConnectedEdges(id));
    // The label outline would stay opaque over faded nodes: drop it with the fade.
    nodes.update(data.nodes.map((n) => keep.has(n.id)
      ? { id: n.id, opacity: 1, font: { ...n.font, color: LABEL, strokeWidth: STROKE } }
      : { id: n.id, opacity: 0.2, font: { ...n.font, color: LABEL_DIM, strokeWidth: 0 } }));
    edges.update(data.edges.map((e) => ({
      id: e.id,
      color: edgeColor(e, near.has(e.id) ? 1 : 0.07),
    })));
    dimmed = true;
  }

  function undim() {
    if (!dimmed) return;
    nodes.update(data.nodes.map((n) => ({
      id: n.id, opacity: 1, font: { ...n.font, color: LABEL, strokeWidth: STROKE },
    })));
    edges.update(data.edges.map((e) => ({
      id: e.id,
      color: edgeColor(e, meta.edgeOpacity),
    })));
    dimmed = false;
  }

  function hidePanel() {
    openNode = null;
    $("kb-panel").hidden = true;
    undim();
  }

  function openPanel() {
    const body = $("kb-panel-body");
    body.replaceChildren();
    $("kb-panel").hidden = false;
    $("kb-panel").scrollTop = 0;
    return body;
  }

  function showPanel(id) {
    const n = byId.get(id);
    if (!n) return;
    openNode = id;
    dim(id);
    const body = openPanel();
    const k = nodeKind.get(n.group) || {};

    body.append(el("h2", "kb-title", n.name));
    const badge = el("span", "kb-badge", kindLabel(n));
    badge.style.background = k.color || "#888";
    body.append(badge);
    if (n.path) body.append(el("div", "kb-location", location(n.path, n.line)));
    // A note's own breadcrumb is just its title: only show where a section sits.
    if (n.heading && n.heading.length > 1) {
      body.append(el("div", "kb-crumbs", n.heading.join(" › ")));
    }
    if (n.snippet) body.append(el("p", "kb-snippet", n.snippet));
    if (n.tags && n.tags.length) {
      const tags = el("div", "kb-tags");
      for (const t of n.tags) tags.append(el("span", "kb-tag", "#" + t));
      body.append(tags);
    }
    const files = n.path ? data.files[n.path] : null;
    if (files) {
      const links = el("div", "kb-links");
      addLink(links, files.obsidian, "Open in Obsidian", "kb-open-obsidian");
      addLink(links, files.file, "Open file", "kb-open-file");
      if (links.childElementCount) body.append(links);
    }

    const around = adjacency.get(id) || [];
    body.append(el("h3", null, "Connections (" + around.length + ")"));
    const list = el("ul", "kb-neighbours");
    const shownAround = around.slice().sort((a, b) =>
      (b.out - a.out) || String(a.edge.kind).localeCompare(String(b.edge.kind)) ||
      (byId.get(a.other) || { name: "" }).name.localeCompare((byId.get(b.other) || { name: "" }).name));
    for (const item of shownAround.slice(0, 80)) {
      const other = byId.get(item.other);
      if (!other) continue;
      const rel = (item.out ? OUT : IN)[item.edge.kind] || item.edge.kind;
      const button = el("button", null);
      button.type = "button";
      const name = el("span", "kb-name", other.name);
      if (item.edge.text && item.edge.text !== other.name) {
        name.append(el("span", "kb-evidence", item.edge.text));
      }
      button.append(el("span", "kb-rel", rel), name);
      button.addEventListener("click", () => focusNode(other.id));
      const li = el("li");
      li.append(button);
      list.append(li);
    }
    body.append(list);
    if (around.length > 80) body.append(el("div", "kb-more", "… and " + (around.length - 80) + " more"));
  }

  function showEdgePanel(id) {
    const e = edgeById.get(id);
    if (!e) return;
    openNode = null;
    undim();
    const body = openPanel();
    const k = edgeKind.get(e.group) || {};
    body.append(el("h2", "kb-title", k.label || e.kind || "link"));
    for (const [rel, end] of [["from", e.from], ["to", e.to]]) {
      const other = byId.get(end);
      const button = el("button", null);
      button.type = "button";
      button.append(el("span", "kb-rel", rel), el("span", "kb-name", other ? other.name : end));
      button.addEventListener("click", () => focusNode(end));
      const list = el("ul", "kb-neighbours");
      const li = el("li");
      li.append(button);
      list.append(li);
      body.append(list);
    }
    if (e.path) body.append(el("div", "kb-location", location(e.path, e.line)));
    if (e.text) body.append(el("p", "kb-snippet", e.text));
  }

  function addLink(parent, url, text, className) {
    const href = safeHref(url);
    if (!href) return;
    const a = el("a", "kb-button " + className, text);
    a.href = href;
    a.rel = "noopener noreferrer";
    parent.append(a);
  }
})();
