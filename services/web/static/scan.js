// Scans a gate pass QR code with the camera where the browser offers barcode detection;
// otherwise the operator pastes or types the code, and the button stays hidden.
"use strict";
(function () {
  const button = document.querySelector(".js-scan");
  const video = document.querySelector(".js-scan-video");
  const field = document.getElementById("gate_pass");
  if (!button || !video || !field || !("BarcodeDetector" in window) || !navigator.mediaDevices) {
    return;
  }
  button.hidden = false;
  button.addEventListener("click", async function () {
    const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    const stop = function () { stream.getTracks().forEach(function (t) { t.stop(); }); video.hidden = true; };
    const look = async function () {
      const found = await detector.detect(video);
      if (found.length) { field.value = found[0].rawValue; stop(); field.focus(); return; }
      requestAnimationFrame(look);
    };
    look();
  });
})();
