// The neurozoo metadata of an exported ONNX model: the JS twin of neurozoo/onnx_metadata.py.
//
// onnxruntime-web does not expose a model's metadata_props, so they are read from the file's
// bytes. Only the top level of the ModelProto is walked (metadata_props is field 14, a list of
// {key: 1, value: 2} string pairs); every other field is skipped by its length, so this stays a
// few lines instead of a protobuf library and its schema.

const MARKER_KEY = "neurozoo_version";
const METADATA_PROPS = 14;
const TASKS = ["multiclass", "multilabel"];
const PRECISIONS = ["fp32", "int8"];

export class MetadataError extends Error {}

// {key: value} of the model's metadata_props.
export function readMetadataProps(bytes) {
  const props = {};
  for (const [field, entry] of fields(bytes)) {
    if (field !== METADATA_PROPS) continue;
    const pair = {};
    for (const [key, value] of fields(entry)) pair[key] = new TextDecoder().decode(value);
    props[pair[1] ?? ""] = pair[2] ?? "";
  }
  return props;
}

// The checked metadata, as OnnxMetadata.from_props checks it; MetadataError names what is wrong.
export function parseMetadata(props, source = "ONNX model") {
  if (!(MARKER_KEY in props)) {
    throw new MetadataError(
      `${source} has no neurozoo metadata (no '${MARKER_KEY}' in its metadata_props): export the model ` +
        "with `neurozoo export`, which records labels and input size",
    );
  }
  let metadata;
  try {
    metadata = {
      neurozooVersion: props[MARKER_KEY],
      classNames: JSON.parse(props.class_names).map(String),
      inputSize: JSON.parse(props.input_size).map(Number),
      task: props.task,
      arch: props.arch,
      method: props.method,
      dataset: props.dataset || null,
      precision: props.precision,
    };
  } catch (error) {
    throw new MetadataError(
      `${source} has damaged neurozoo metadata (${error.message}); re-export it with \`neurozoo export\``,
    );
  }
  const problems = [];
  if (metadata.inputSize.length !== 3 || !metadata.inputSize.every(Number.isInteger)) {
    problems.push(`input_size ${props.input_size} is not [channels, height, width]`);
  }
  if (!TASKS.includes(metadata.task)) problems.push(`task '${metadata.task}' is not one of ${TASKS.join(", ")}`);
  if (!PRECISIONS.includes(metadata.precision)) {
    problems.push(`precision '${metadata.precision}' is not one of ${PRECISIONS.join(", ")}`);
  }
  if (!metadata.classNames.length) problems.push("class_names is empty");
  if (problems.length) {
    throw new MetadataError(`${source} has invalid neurozoo metadata: ${problems.join("; ")}; re-export it`);
  }
  return metadata;
}

// [field number, payload] of each length-delimited field of one protobuf message; other wire types are skipped.
function* fields(bytes) {
  let position = 0;
  const varint = () => {
    let value = 0;
    for (let scale = 1; ; scale *= 128) {
      if (position >= bytes.length) throw new MetadataError("the ONNX file is truncated");
      const byte = bytes[position++];
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
    }
  };
  while (position < bytes.length) {
    const tag = varint();
    const wireType = tag % 8;
    const field = Math.floor(tag / 8);
    if (wireType === 0) varint();
    else if (wireType === 1) position += 8;
    else if (wireType === 5) position += 4;
    else if (wireType === 2) {
      const length = varint();
      if (position + length > bytes.length) throw new MetadataError("the ONNX file is truncated");
      yield [field, bytes.subarray(position, position + length)];
      position += length;
    } else throw new MetadataError(`not an ONNX file (protobuf wire type ${wireType} at byte ${position})`);
  }
}
