// The demo page: loads onnxruntime-web and the model, classifies picked, dropped or drawn images.
//
// window.neurozooDemo is the page's test hook (tests/test_demo.py): `ready` settles once the model
// is loaded (or failed to load), and every classified file appends to `results`.

import { MetadataError, parseMetadata, readMetadataProps } from "./onnx_metadata.js";
import { InputError, probabilities, toInput, topK } from "./preprocess.js";

const config = JSON.parse(document.getElementById("neurozoo-demo-config").textContent);
const UNREACHABLE = "offline, blocked, or not the file its integrity hash names";
const $ = (selector) => document.querySelector(selector);
const hook = (window.neurozooDemo = { results: [], drawing: null, ready: null });

hook.ready = load().then(
  (model) => {
    start(model);
    return { ok: true, metadata: model.metadata };
  },
  (error) => {
    setStatus("error", error.message);
    return { ok: false, error: error.message };
  },
);

async function load() {
  setStatus("busy", "Loading onnxruntime-web and the model…");
  const moduleUrl = import.meta.resolve("onnxruntime-web");
  let ort;
  try {
    ort = await import("onnxruntime-web");
  } catch (error) {
    throw new Error(`onnxruntime-web could not be loaded from ${moduleUrl} (${UNREACHABLE}): ${error.message}`);
  }
  const [wasm, bytes] = await Promise.all([
    fetchBytes(config.wasm, config.wasmIntegrity, "onnxruntime-web's WebAssembly"),
    fetchBytes(config.model, undefined, "the model"),
  ]);
  const metadata = parseMetadata(readMetadataProps(bytes), config.model);
  ort.env.wasm.wasmBinary = wasm; // fetched above with its integrity hash; onnxruntime-web fetches nothing else
  // Threads need a cross-origin-isolated page (COOP/COEP headers), which static hosts rarely send.
  ort.env.wasm.numThreads = 1;
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
  // The first run allocates and picks kernels; run it here so that the times shown are per inference.
  const size = metadata.inputSize.reduce((a, b) => a * b);
  const blank = new ort.Tensor("float32", new Float32Array(size), [1, ...metadata.inputSize]);
  await session.run({ [session.inputNames[0]]: blank });
  return { ort, session, metadata };
}

async function fetchBytes(url, integrity, what) {
  let response;
  try {
    response = await fetch(url, integrity ? { integrity } : {});
  } catch (error) {
    throw new Error(`${what} could not be fetched from ${url} (${UNREACHABLE}): ${error.message}`);
  }
  if (!response.ok) throw new Error(`${what} could not be fetched from ${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

function start(model) {
  const { metadata } = model;
  const [channels, height, width] = metadata.inputSize;
  $("#model").textContent = [
    metadata.method, metadata.arch, metadata.dataset, metadata.precision,
    `${channels === 1 ? "grayscale" : "RGB"} ${width}×${height}`,
    `${metadata.classNames.length} classes (${metadata.task})`,
  ].filter(Boolean).join(" · ");
  $("#resize-size").textContent = `${width}×${height}`;
  $("#file-input").disabled = false;
  setStatus("ready", "Ready: pick or drop images. Nothing leaves this browser.");

  const classifyFiles = async (files) => {
    for (const file of files) hook.results.push(await classifyFile(model, file));
  };
  $("#file-input").addEventListener("change", (event) => classifyFiles([...event.target.files]));
  const drop = $("#drop");
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    classifyFiles([...event.dataTransfer.files]);
  });
  if (channels === 1) startDrawing(model);
}

async function classifyFile(model, file) {
  const card = document.createElement("li");
  $("#results").append(card);
  let result;
  try {
    const pixels = await decode(file);
    result = { name: file.name, ok: true, ...(await classify(model, pixels)) };
    render(card, file.name, result, URL.createObjectURL(file));
  } catch (error) {
    if (!(error instanceof InputError || error instanceof MetadataError)) console.error(error);
    result = { name: file.name, ok: false, error: error.message };
    renderError(card, file.name, error.message);
  }
  return result;
}

// The file's RGBA pixels as stored: no colour-profile conversion, no scaling. (Semi-transparent pixels
// pass through the canvas' premultiplied storage, so theirs can differ slightly from Pillow's.)
async function decode(file) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { colorSpaceConversion: "none", premultiplyAlpha: "none" });
  } catch {
    throw new InputError(
      `${file.name} is not an image this browser can decode (PNG, JPEG, GIF, WebP, …): pick an image file`,
    );
  }
  const canvas = document.createElement("canvas");
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  return context.getImageData(0, 0, canvas.width, canvas.height);
}

async function classify({ ort, session, metadata }, { data, width, height }) {
  const input = toInput(data, width, height, metadata.inputSize, $("#resize").checked);
  const tensor = new ort.Tensor("float32", input, [1, ...metadata.inputSize]);
  const started = performance.now();
  const outputs = await session.run({ [session.inputNames[0]]: tensor });
  const ms = performance.now() - started;
  const probs = probabilities(outputs[session.outputNames[0]].data, metadata.task);
  const indices = topK(probs, config.topK);
  return { ms, indices, labels: indices.map((i) => metadata.classNames[i]), probabilities: Array.from(probs) };
}

function render(card, name, result, imageUrl) {
  card.className = "result";
  card.innerHTML = `<img alt=""><div><p class="name"></p><ol class="top"></ol><p class="time"></p></div>`;
  card.querySelector("img").src = imageUrl;
  card.querySelector(".name").textContent = name;
  card.querySelector(".time").textContent = `${result.ms.toFixed(1)} ms per inference`;
  const list = card.querySelector(".top");
  result.indices.forEach((index, rank) => {
    const probability = result.probabilities[index];
    const row = document.createElement("li");
    row.innerHTML = `<span class="label"></span><span class="p"></span>`;
    row.style.setProperty("--p", `${(100 * probability).toFixed(1)}%`);
    row.querySelector(".label").textContent = result.labels[rank];
    row.querySelector(".p").textContent = `${(100 * probability).toFixed(1)} %`;
    list.append(row);
  });
}

function renderError(card, name, message) {
  card.className = "result error";
  card.innerHTML = `<div><p class="name"></p><p class="message" role="alert"></p></div>`;
  card.querySelector(".name").textContent = name;
  card.querySelector(".message").textContent = message;
}

// A drawing pad for digit models: white strokes on black, like MNIST; classified after each stroke.
function startDrawing(model) {
  $("#drawing").hidden = false;
  const pad = $("#pad");
  const context = pad.getContext("2d", { willReadFrequently: true });
  const clear = () => {
    context.fillStyle = "black";
    context.fillRect(0, 0, pad.width, pad.height);
  };
  clear();
  context.strokeStyle = "white";
  context.lineWidth = pad.width / 12;
  context.lineCap = context.lineJoin = "round";
  const point = (event) => {
    const box = pad.getBoundingClientRect();
    return [((event.clientX - box.left) * pad.width) / box.width,
            ((event.clientY - box.top) * pad.height) / box.height];
  };
  pad.addEventListener("pointerdown", (event) => {
    pad.setPointerCapture(event.pointerId);
    context.beginPath();
    context.moveTo(...point(event));
  });
  pad.addEventListener("pointermove", (event) => {
    if (!pad.hasPointerCapture(event.pointerId)) return;
    context.lineTo(...point(event));
    context.stroke();
  });
  pad.addEventListener("pointerup", async () => {
    const card = $("#drawing-result");
    try {
      hook.drawing = await classify(model, context.getImageData(0, 0, pad.width, pad.height));
      render(card, "your drawing", hook.drawing, pad.toDataURL());
    } catch (error) {
      renderError(card, "your drawing", error.message);
    }
  });
  $("#clear").addEventListener("click", () => {
    clear();
    $("#drawing-result").replaceChildren();
  });
}

function setStatus(state, message) {
  const status = $("#status");
  status.dataset.state = state;
  status.textContent = message;
}
