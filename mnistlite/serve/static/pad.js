// The drawing pad and the answer panel of both draw-a-digit pages: `mnistlite serve`'s, and
// the static page `mnistlite export --format web` writes. The panel's markup is here too: each
// page leaves an empty <section id="answer">. Pointer events (mouse, touch, pen) draw on the
// pad; `onRead` is called to read it, debounced while drawing and at once when a stroke ends.
// The page's app.js says how a drawing is read and shows the answer with show().
"use strict";

const mnistlitePad = (() => {
  const PEN = 18; // stroke width in pad pixels (the pad is 280x280)
  const byId = (id) => document.getElementById(id);
  // The answer panel, the same on both pages: the digit, ten bars, the 28x28 input.
  const ANSWER = `
    <div class="answer">
      <span id="digit" data-testid="digit" aria-label="predicted digit">–</span>
      <span id="confidence" class="muted"></span>
    </div>
    <ol id="bars" aria-label="Probability of each digit"></ol>
    <figure class="seen">
      <canvas id="seen" width="28" height="28" aria-label="The 28 by 28 picture the model saw"></canvas>
      <figcaption>
        What the model saw: your ink cropped to its bounding box, scaled so its longer side
        is 20 pixels, and placed in a 28×28 field with its centre of mass at the centre,
        as MNIST's digits were made.
      </figcaption>
    </figure>`;

  // options: onRead() reads the pad; debounceMs; ready() says whether a model is there.
  return function create({ onRead, debounceMs, ready = () => true }) {
    const app = byId("app");
    byId("answer").innerHTML = ANSWER;
    const pad = byId("pad");
    const ctx = pad.getContext("2d", { willReadFrequently: true });
    const [status, digitOut, confidence] = [byId("status"), byId("digit"), byId("confidence")];
    const [bars, seen] = [byId("bars"), byId("seen")];
    // strokes: finished strokes on the pad; run: the latest reading's id (older ones drop)
    const state = { strokes: 0, inked: false, run: 0 };
    let pen = null; // {id, x, y} while a pointer draws
    let timer = null;

    for (let d = 0; d < 10; d++) {
      const li = document.createElement("li");
      li.innerHTML =
        `<span>${d}</span><span class="track"><span class="fill"></span></span>` +
        `<span class="pct" data-testid="prob-${d}"></span>`;
      bars.appendChild(li);
    }

    function setStatus(text, kind) {
      status.textContent = text;
      app.dataset.state = kind;
    }

    function showNothing() {
      digitOut.textContent = "–";
      confidence.textContent = "";
      for (const li of bars.children) {
        li.classList.remove("top");
        li.querySelector(".fill").style.width = "0";
        const pct = li.querySelector(".pct");
        pct.textContent = "";
        delete pct.dataset.value;
      }
      seen.getContext("2d").clearRect(0, 0, 28, 28);
    }

    // probabilities: ten numbers; gray(i): pixel i of the 28x28 input the model saw, 0-255.
    function show(probabilities, gray) {
      const digit = probabilities.indexOf(Math.max(...probabilities));
      digitOut.textContent = String(digit);
      confidence.textContent = `${(100 * probabilities[digit]).toFixed(1)} %`;
      probabilities.forEach((p, d) => {
        const li = bars.children[d];
        li.classList.toggle("top", d === digit);
        li.querySelector(".fill").style.width = `${(100 * p).toFixed(1)}%`;
        const pct = li.querySelector(".pct");
        pct.textContent = `${(100 * p).toFixed(1)}%`;
        pct.dataset.value = String(p);
      });
      const image = new ImageData(28, 28);
      for (let i = 0; i < 28 * 28; i++) {
        image.data[4 * i] = image.data[4 * i + 1] = image.data[4 * i + 2] = gray(i);
        image.data[4 * i + 3] = 255;
      }
      seen.getContext("2d").putImageData(image, 0, 0);
      return digit;
    }

    function clear() {
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, pad.width, pad.height);
      ctx.strokeStyle = "#000";
      ctx.fillStyle = "#000";
      ctx.lineWidth = PEN;
      ctx.lineCap = "round";
      ctx.lineJoin = "round";
      state.inked = false;
      state.strokes = 0;
      state.run += 1; // answers still on their way are for the old drawing
      clearTimeout(timer);
      app.dataset.drawn = "0";
      app.dataset.shown = "0";
      showNothing();
      if (ready()) setStatus("Draw a digit from 0 to 9.", "empty");
    }

    function schedule(delay) {
      clearTimeout(timer);
      timer = setTimeout(() => state.inked && onRead(), delay);
    }

    function where(event) {
      const box = pad.getBoundingClientRect();
      return {
        x: ((event.clientX - box.left) * pad.width) / box.width,
        y: ((event.clientY - box.top) * pad.height) / box.height,
      };
    }

    pad.addEventListener("pointerdown", (event) => {
      if (event.pointerType === "mouse" && event.button !== 0) return;
      if (pen !== null) return; // one pointer draws at a time
      event.preventDefault();
      pad.setPointerCapture(event.pointerId);
      const p = where(event);
      pen = { id: event.pointerId, ...p };
      app.dataset.pointer = event.pointerType; // mouse, touch or pen
      ctx.beginPath();
      ctx.arc(p.x, p.y, PEN / 2, 0, 2 * Math.PI);
      ctx.fill();
      state.inked = true;
      schedule(debounceMs);
    });

    pad.addEventListener("pointermove", (event) => {
      if (pen === null || event.pointerId !== pen.id) return;
      event.preventDefault();
      const moves = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
      for (const move of moves.length ? moves : [event]) {
        const p = where(move);
        ctx.beginPath();
        ctx.moveTo(pen.x, pen.y);
        ctx.lineTo(p.x, p.y);
        ctx.stroke();
        [pen.x, pen.y] = [p.x, p.y];
      }
      schedule(debounceMs);
    });

    function endStroke(event) {
      if (pen === null || event.pointerId !== pen.id) return;
      pen = null;
      state.strokes += 1;
      app.dataset.drawn = String(state.strokes);
      schedule(0);
    }
    pad.addEventListener("pointerup", endStroke);
    pad.addEventListener("pointercancel", endStroke);
    byId("clear").addEventListener("click", clear);

    return { app, pad, ctx, state, setStatus, showNothing, show, clear, schedule };
  };
})();
