/* Wall screen opened with a display token (security/screen.html): clock and live dashboard updates. */
(function () {
  const clock = document.getElementById("screen-clock");
  const tick = () => { clock.textContent = new Date().toLocaleTimeString([], {hour12: false}); };
  tick(); setInterval(tick, 1000);
  const live = document.getElementById("screen-live");
  const rt = Unimanager.realtime();
  rt.on("open", () => { live.textContent = "live"; live.classList.remove("offline"); });
  rt.on("close", () => { live.textContent = "offline"; live.classList.add("offline"); });
  for (const d of JSON.parse(document.getElementById("screen-dashboards").textContent)) {
    const topic = "dashboard:" + d;
    rt.subscribe(topic, (event) => {
      const el = document.querySelector(`[data-topic="${topic}"]`);
      if (el) el.textContent = "updated " + new Date().toLocaleTimeString([], {hour12: false});
    });
  }
})();
