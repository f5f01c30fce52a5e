/* Dependency topology (provisioning/topology.html): the graph of a project or a resource, and the
 * root-cause ranking of the nodes picked. Names, types and statuses come from the clouds: the tooltip
 * is HTML, so each of them is escaped. */
(async function () {
  "use strict";
  const esc = Unimanager.escapeHtml;
  const box = document.getElementById("topo");
  const params = new URLSearchParams();
  if (box.dataset.resource) params.set("resource", box.dataset.resource);
  else if (box.dataset.project) params.set("project", box.dataset.project);
  const chart = echarts.init(box);
  if (![...params.keys()].length) {
    chart.setOption({title: {text: "Choose a project or a resource", left: "center", top: "middle", textStyle: {color: "#6c7a91", fontSize: 14}}});
    return;
  }
  let g;
  try { g = await Unimanager.api("GET", "/api/v1/provisioning/topology/?" + params); }
  catch (e) { chart.setOption({title: {text: e.message, left: "center", top: "middle"}}); return; }
  const picked = new Set();
  const statusColor = (s) => s === "running" || s === "available" ? "#2fb344" : s === "stopped" ? "#f59f00" : s ? "#d63939" : "#9aa0ac";
  const tooltip = (p) => p.dataType === "edge" ? esc(p.data.kind)
    : [p.data.type, p.data.name, p.data.status || "outside your view"].map(esc).join("<br>");
  chart.setOption({
    tooltip: {formatter: tooltip},
    legend: [{data: g.categories.map(c => c.name), bottom: 0}],
    series: [{type: "graph", layout: "force", roam: true, draggable: true, force: {repulsion: 260, edgeLength: 90},
      categories: g.categories, edgeSymbol: ["none", "arrow"], edgeSymbolSize: 7,
      // Labels are drawn on the canvas as text, never parsed as HTML.
      label: {show: true, position: "right", formatter: (p) => p.data.name},
      data: g.nodes.map(n => ({...n, name: n.name, id: n.id, symbolSize: n.type === "vpc.vpc" ? 34 : n.type === "vpc.vswitch" ? 28 : 20, itemStyle: {borderColor: statusColor(n.status), borderWidth: 3}})),
      links: g.links.map(l => ({...l, lineStyle: {opacity: 0.7}}))}]});
  chart.on("click", (p) => {
    if (p.dataType !== "node" || !p.data.resource) return;
    picked.has(p.data.resource) ? picked.delete(p.data.resource) : picked.add(p.data.resource);
    document.getElementById("picked").textContent = picked.size + " selected";
  });
  window.addEventListener("resize", () => chart.resize());
  document.getElementById("rc-run").addEventListener("click", async () => {
    const out = document.getElementById("rc-out");
    try {
      const rc = await Unimanager.api("GET", "/api/v1/provisioning/root-cause/?resources=" + [...picked].join(","));
      out.replaceChildren();
      const p = document.createElement("p"); p.className = "fw-bold"; p.textContent = rc.hint || "No shared dependency."; out.appendChild(p);
      rc.candidates.forEach(c => { const d = document.createElement("div"); d.textContent = c.type + " " + c.name + ": " + c.shared_by + "/" + c.of; out.appendChild(d); });
    } catch (e) { out.textContent = e.message; }
  });
})();
