/* Usage statistics (resources/usage.html): the bar chart of the groups in the table. */
(function () {
  const data = JSON.parse(JSON.parse(document.getElementById("usage-data").textContent));
  if (!window.echarts || !data.labels.length) return;
  const chart = echarts.init(document.getElementById("usage-chart"));
  chart.setOption({
    tooltip: {trigger: "axis"}, legend: {data: ["Resources", "vCPU"]},
    xAxis: {type: "category", data: data.labels, axisLabel: {interval: 0, rotate: data.labels.length > 6 ? 30 : 0}},
    yAxis: {type: "value"}, grid: {left: 40, right: 20, bottom: 60, top: 40},
    series: [{name: "Resources", type: "bar", data: data.counts}, {name: "vCPU", type: "bar", data: data.vcpu}],
  });
  window.addEventListener("resize", () => chart.resize());
})();
