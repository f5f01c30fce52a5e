/* A resource's metrics (resources/detail.html): one ECharts line per metric its type collects. */
(function () {
  "use strict";
  const card = document.getElementById("resource-metrics");
  if (!card || !window.echarts) return;
  const box = card.querySelector(".um-metric-charts"), range = card.querySelector("[data-role=range]");
  let charts = [];

  async function draw() {
    charts.forEach((c) => c.dispose());
    charts = [];
    let catalog;
    try { catalog = await Unimanager.api("GET", "/api/v1/alerts/metrics/catalog/"); } catch (e) { card.remove(); return; }
    const names = catalog.types[card.dataset.type] || [];
    if (!names.length) { card.remove(); return; }
    box.textContent = "";
    const end = new Date(), start = new Date(end - Number(range.value) * 3600 * 1000);
    for (const metric of names) {
      const q = new URLSearchParams({resource: card.dataset.resource, metric: metric, start: start.toISOString(), end: end.toISOString()});
      let data;
      try { data = await Unimanager.api("GET", "/api/v1/alerts/metrics/series/?" + q); } catch (e) { continue; }
      const points = data.series.length ? data.series[0].points : [];
      const holder = document.createElement("div");
      holder.className = "um-metric-chart";
      holder.dataset.metric = metric;
      box.appendChild(holder);
      const chart = echarts.init(holder);
      charts.push(chart);
      chart.setOption({
        title: {text: metric + (points.length ? "" : " (no data yet)"), textStyle: {fontSize: 13}},
        tooltip: {trigger: "axis"}, grid: {left: 60, right: 16, top: 36, bottom: 28},
        xAxis: {type: "time"}, yAxis: {type: "value", scale: true},
        series: [{type: "line", showSymbol: false, data: points, areaStyle: {opacity: 0.08}}],
      });
    }
  }
  range.addEventListener("change", draw);
  window.addEventListener("resize", () => charts.forEach((c) => c.resize()));
  draw();
})();
