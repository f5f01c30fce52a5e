/* Operations wall (screens/home.html): clock, live running count and the 24-hour chart. */
(function () {
  const clock = document.getElementById("screen-clock");
  const tick = () => { clock.textContent = new Date().toLocaleTimeString([], {hour12: false}); };
  tick(); setInterval(tick, 1000);
  const live = document.getElementById("screen-live");
  const rt = Unimanager.realtime();
  rt.on("open", () => { live.textContent = "live"; live.classList.remove("offline"); });
  rt.on("close", () => { live.textContent = "offline"; live.classList.add("offline"); });
  const hourly = JSON.parse(document.getElementById("screen-hourly").textContent);
  const chart = echarts.init(document.getElementById("screen-chart"), "dark", {renderer: "canvas"});
  chart.setOption({
    backgroundColor: "transparent",
    grid: {left: 40, right: 20, top: 20, bottom: 30},
    tooltip: {trigger: "axis"},
    legend: {data: ["Succeeded", "Failed"], textStyle: {color: "#b9c6f5"}, right: 0},
    xAxis: {type: "category", data: hourly.labels, axisLabel: {color: "#8b97c7"}},
    yAxis: {type: "value", minInterval: 1, axisLabel: {color: "#8b97c7"}, splitLine: {lineStyle: {color: "#1f2a4d"}}},
    series: [
      {name: "Succeeded", type: "bar", stack: "ops", data: hourly.succeeded, itemStyle: {color: "#22c3a6"}},
      {name: "Failed", type: "bar", stack: "ops", data: hourly.failed, itemStyle: {color: "#ff6b6b"}},
    ],
  });
  window.addEventListener("resize", () => chart.resize());

  // Live: operations started raise the running count; finished ones lower it and fill the chart.
  const running = document.getElementById("screen-running");
  const seen = new Map(); // operation id -> last status shown
  const final = new Set(["succeeded", "failed", "cancelled"]);
  function onActivity(op) {
    const before = seen.get(op.id);
    seen.set(op.id, op.status);
    if (before === undefined && op.status === "pending") {
      running.textContent = parseInt(running.textContent, 10) + 1;
    }
    if (final.has(op.status) && !final.has(before)) {
      if (before !== undefined || op.started_at) {
        running.textContent = Math.max(0, parseInt(running.textContent, 10) - 1);
      }
      const series = op.status === "succeeded" ? hourly.succeeded : hourly.failed;
      series[series.length - 1] += 1;
      chart.setOption({series: [{data: hourly.succeeded}, {data: hourly.failed}]});
    }
    window.screenActivity = (window.screenActivity || 0) + 1;
  }
  JSON.parse(document.getElementById("screen-topics").textContent).forEach((t) => rt.subscribe(t, onActivity));
  // An unattended screen reloads hourly so the chart's hours move on.
  setTimeout(() => location.reload(), 3600 * 1000);
})();
