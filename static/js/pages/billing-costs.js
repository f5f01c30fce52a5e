/* Cost analysis (billing/costs.html): the daily trend stacked by the chosen grouping, the breakdown
   pie, and the share bars of the table. */
(function () {
  "use strict";
  document.querySelectorAll("[data-share]").forEach((bar) => { bar.style.width = bar.dataset.share + "%"; });
  const data = JSON.parse(document.getElementById("cost-data").textContent);
  if (!window.echarts) return;
  const money = (v) => Number(v).toFixed(2) + (data.currency ? " " + data.currency : "");
  const trend = echarts.init(document.getElementById("cost-trend"));
  const series = data.series.length
    ? data.series.map((s) => ({name: s.name, type: "bar", stack: "spend", data: s.data.map(Number)}))
    : [{name: "Spend", type: "bar", data: data.daily.map(Number)}];
  trend.setOption({
    tooltip: {trigger: "axis", valueFormatter: money},
    legend: {type: "scroll", top: 0},
    grid: {left: 60, right: 20, bottom: 40, top: 40},
    xAxis: {type: "category", data: data.days},
    yAxis: {type: "value", name: data.currency},
    series: series,
  });
  const pie = echarts.init(document.getElementById("cost-breakdown"));
  pie.setOption({
    tooltip: {trigger: "item", valueFormatter: money},
    legend: {type: "scroll", bottom: 0},
    // Labels only for the slice under the pointer, in the ring's hole: small slices never collide.
    series: [{type: "pie", radius: ["45%", "72%"], top: -20, avoidLabelOverlap: true,
              data: data.breakdown.map((d) => ({name: d.name, value: Number(d.value)})),
              label: {show: false, position: "center"},
              emphasis: {label: {show: true, formatter: "{b}\n{d}%", fontSize: 16, fontWeight: "bold"}}}],
  });
  window.addEventListener("resize", () => { trend.resize(); pie.resize(); });
})();
