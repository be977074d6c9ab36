// The capture component: opens the camera only while it records, shows the challenge's prompts
// one at a time, and returns JPEG frames with timestamps, exactly as the liveness API takes them.
// Frames are drawn unmirrored (the preview is mirrored, like a mirror, for the person only).
import { addStrings, el, lang, moreTime, moreTimeControl, t } from "./ft.js";

addStrings({
  "camera.get_ready": { zh: "请把脸放进框内", en: "Put your face inside the frame" },
  "camera.look": { zh: "请看着摄像头，保持不动", en: "Look at the camera and hold still" },
  "camera.checking": { zh: "正在检查动作和画面…", en: "Checking the actions and the picture…" },
  "camera.steps": { zh: "动作", en: "Actions" },
  "camera.step_done": { zh: "（已完成）", en: "(done)" },
  "camera.step_now": { zh: "（现在做）", en: "(now)" },
  "camera.starting": { zh: "正在打开摄像头…", en: "Opening the camera…" },
  "camera.stalled": { zh: "摄像头卡顿了一下，请再做一次", en: "The camera paused for a moment. Once more, please" },
  "camera.hint": { zh: "请在光线充足处，由本人正对摄像头。", en: "In good light, face the camera yourself." },
});

const MAX_SIDE = 640; // pixels on the longer side: plenty for the face models, small to send
const JPEG_QUALITY = 0.9;

export class CameraError extends Error {
  constructor(code, message) { super(message); this.code = code; }
}

async function openCamera() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    throw new CameraError("camera_missing", "this browser cannot use a camera here");
  }
  try {
    return await navigator.mediaDevices.getUserMedia({
      video: { facingMode: "user", width: { ideal: 640 }, height: { ideal: 480 } }, audio: false,
    });
  } catch (e) {
    const byName = { NotAllowedError: "camera_denied", SecurityError: "camera_denied", NotFoundError: "camera_missing",
      OverconstrainedError: "camera_missing", NotReadableError: "camera_busy", AbortError: "camera_busy" };
    throw new CameraError(byName[e.name] || "camera_missing", String(e));
  }
}

function sleep(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }

function grab(video, canvas) {
  const scale = Math.min(1, MAX_SIDE / Math.max(video.videoWidth, video.videoHeight));
  canvas.width = Math.round(video.videoWidth * scale);
  canvas.height = Math.round(video.videoHeight * scale);
  canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
  return canvas.toDataURL("image/jpeg", JPEG_QUALITY).split(",", 2)[1];
}

// Live guidance: each action has its own bar, filled as its time runs and ticked when its window
// closes; the current instruction is in the prompt (announced); "more time for each action" (a
// choice remembered in this browser, WCAG 2.2.1) makes every action's window longer. The frame rate
// drops as the capture lengthens, so a capture stays within what the service takes (MAX_FRAMES).
const MAX_FRAMES = 88; // the service takes up to 90 frames a capture (liveness_max_frames)
export const MORE_TIME_FACTOR = 1.6;
// The service refuses a gap over 400 ms between frames, or over 3.5 times the usual one
// (liveness.continuity.ContinuityPolicy): a take with a gap near either is recorded again.
const STALL_GAP_MS = 360;
const STALL_GAP_RATIO = 3.2;
const STALL_RETAKES = 2;

function stalled(frames) {
  const gaps = frames.slice(1).map((f, i) => f.t_ms - frames[i].t_ms);
  if (!gaps.length) return false;
  const median = [...gaps].sort((a, b) => a - b)[Math.floor(gaps.length / 2)];
  const longest = Math.max(...gaps);
  return longest > STALL_GAP_MS || (median > 0 && longest > STALL_GAP_RATIO * median);
}

function stepList(challenge) {
  const actions = challenge.actions || [];
  return el("ol", { class: "steps", "aria-label": t("camera.steps") }, actions.map((a, i) =>
    el("li", { dataset: { action: a } },
      el("span", { class: "tick", "aria-hidden": "true" }),
      el("span", { class: "label" }, challenge.instructions[i][lang] || challenge.instructions[i].en),
      el("span", { class: "state sr-only" }),
      el("span", { class: "bar", "aria-hidden": "true" }, el("i", {})))));
}

function markStep(li, state) {
  li.className = state;
  li.querySelector(".state").textContent = state === "done" ? t("camera.step_done") : state === "now" ? t("camera.step_now") : "";
}

// Record the person answering ``challenge`` ({nonce, actions, instructions}) inside ``box``.
// Resolves to the capture body {nonce, frames}; rejects with CameraError when the camera fails.
// When it resolves the camera is off and the box shows a spinner with the step under way
// (``working`` changes that step while the page waits for the service).
export async function record(box, challenge, { secondsPerAction = 2.6, leadSeconds = 1.0, passiveSeconds = 1.6, fps = 9 } = {}) {
  const video = el("video", { autoplay: true, muted: true, playsinline: true });
  const prompt = el("div", { class: "prompt", "aria-live": "assertive" }, t("camera.starting"));
  const progress = el("div", { class: "progress" });
  const actions = challenge.actions || [];
  const steps = stepList(challenge);
  box.replaceChildren(el("div", { class: "camera" }, video, el("div", { class: "oval" }), progress, prompt), steps,
    el("p", { class: "muted small" }, t("camera.hint")), moreTimeControl());
  // The capture view covers the screen (ft.css .capture-view) from now until the page hides or
  // replaces the box: the oval, the prompt and then the spinner are where the person looks.
  box.classList.add("capture-view");
  box.hidden = false;

  const stream = await openCamera();
  try {
    video.srcObject = stream;
    await video.play();
    while (!video.videoWidth) await sleep(20);

    // The prompt plan: get ready, then each action in turn (or one passive look). An action's
    // window is read as it starts, so "more time" chosen during a capture counts from the next one.
    const perAction = () => secondsPerAction * (moreTime.get() ? MORE_TIME_FACTOR : 1);
    const plan = [{ text: t("camera.get_ready"), seconds: () => leadSeconds, index: -1 }];
    if (actions.length) {
      actions.forEach((_, i) => plan.push({
        text: challenge.instructions[i][lang] || challenge.instructions[i].en, seconds: perAction, index: i }));
    } else {
      plan.push({ text: t("camera.look"), seconds: () => passiveSeconds, index: -1 });
    }
    const canvas = document.createElement("canvas");
    const items = [...steps.children];
    // One take of the whole plan: the frames, each new picture with its time.
    const take = async () => {
      let rate = fps;
      const frames = [];
      const start = performance.now();
      let step = -1, stepStart = 0, stepLength = 0;
      for (;;) {
        const elapsed = performance.now() - start;
        if (elapsed >= stepStart + stepLength) {
          if (step >= 0 && plan[step].index >= 0) markStep(items[plan[step].index], "done");
          step += 1;
          if (step >= plan.length) return frames;
          stepStart = elapsed;
          stepLength = plan[step].seconds() * 1000;
          // Fewer frames a second when the rest of the capture is long ("more time"), so that all
          // of it fits in the frames the service takes.
          const rest = plan.slice(step).reduce((sum, p) => sum + p.seconds(), 0);
          rate = Math.min(fps, Math.max(1, MAX_FRAMES - frames.length) / rest);
          prompt.textContent = plan[step].text;
          if (plan[step].index >= 0) markStep(items[plan[step].index], "now");
        }
        const within = Math.min(1, (elapsed - stepStart) / stepLength);
        if (plan[step].index >= 0) items[plan[step].index].querySelector(".bar i").style.width = `${Math.round(100 * within)}%`;
        progress.style.width = `${Math.min(100, (100 * (step + within)) / plan.length)}%`;
        if (frames.length < MAX_FRAMES) {
          const image = grab(video, canvas);
          // A camera that stalls hands back the same picture; sending it twice proves nothing (and
          // the service refuses a capture with a repeated frame), so keep only new pictures.
          if (!frames.length || frames[frames.length - 1].image_base64 !== image) {
            frames.push({ t_ms: Math.round(elapsed), image_base64: image });
          }
        }
        await sleep(Math.max(0, 1000 / rate - (performance.now() - start - elapsed)));
      }
    };
    // A busy phone or camera can stall for a moment mid-capture; the service refuses a gap a cut
    // could hide behind (timing_implausible), and that refusal would cost the person a try. Such a
    // take is recorded again here, before anything is sent, at most twice.
    let frames = await take();
    for (let retake = 0; retake < STALL_RETAKES && stalled(frames); retake += 1) {
      items.forEach((li) => { markStep(li, ""); li.querySelector(".bar i").style.width = "0%"; });
      progress.style.width = "0%";
      prompt.textContent = t("camera.stalled");
      await sleep(1500);
      frames = await take();
    }
    items.forEach((li) => markStep(li, "done"));
    progress.style.width = "100%";
    video.hidden = true; // the camera is off: no black picture, a spinner and the step under way
    box.querySelector(".camera").append(el("div", { class: "analysing", role: "status" },
      el("div", { class: "spinner", "aria-hidden": "true" }), el("p", { class: "step" }, t("camera.checking"))));
    prompt.remove();
    const more = box.querySelector(".more-time");
    if (more) more.remove();
    return { nonce: challenge.nonce, frames };
  } finally {
    stream.getTracks().forEach((track) => track.stop()); // the camera light goes off at once
  }
}

// The step under way while the page waits (checking the capture, comparing with the ID photo...):
// a spinner and the step's words, in the capture's box (or on their own when it has none).
export function working(box, text) {
  const step = box.querySelector(".analysing .step");
  if (step) { step.textContent = text; return; }
  box.replaceChildren(el("div", { class: "analysing standalone", role: "status" },
    el("div", { class: "spinner", "aria-hidden": "true" }), el("p", { class: "step" }, text)));
  box.hidden = false;
}
