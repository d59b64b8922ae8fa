/**
 * A minimal ONNX ModelProto writer: enough of onnx.proto to serialise a small inference graph with
 * dense initializers (stored as little-endian raw_data) and symbolic input/output axes.
 *
 * The schema below is a subset of onnx/onnx.proto (proto2) with the upstream field numbers, so any
 * ONNX reader decodes the output; fields left out here (training info, functions, sparse tensors)
 * are simply absent from the file.
 */
import { endianness } from 'node:os'
import protobuf from 'protobufjs'

const ONNX_SUBSET_PROTO = `
syntax = "proto2";
package onnx;

message AttributeProto {
  enum AttributeType { UNDEFINED = 0; FLOAT = 1; INT = 2; STRING = 3; TENSOR = 4; FLOATS = 6; INTS = 7; STRINGS = 8; }
  optional string name = 1;
  optional AttributeType type = 20;
  optional float f = 2;
  optional int64 i = 3;
  optional bytes s = 4;
  optional TensorProto t = 5;
  repeated float floats = 7;
  repeated int64 ints = 8;
  repeated bytes strings = 9;
}

message ValueInfoProto {
  optional string name = 1;
  optional TypeProto type = 2;
  optional string doc_string = 3;
}

message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  optional string name = 3;
  optional string op_type = 4;
  optional string domain = 7;
  repeated AttributeProto attribute = 5;
  optional string doc_string = 6;
}

message ModelProto {
  optional int64 ir_version = 1;
  repeated OperatorSetIdProto opset_import = 8;
  optional string producer_name = 2;
  optional string producer_version = 3;
  optional string domain = 4;
  optional int64 model_version = 5;
  optional string doc_string = 6;
  optional GraphProto graph = 7;
  repeated StringStringEntryProto metadata_props = 14;
}

message StringStringEntryProto {
  optional string key = 1;
  optional string value = 2;
}

message GraphProto {
  repeated NodeProto node = 1;
  optional string name = 2;
  repeated TensorProto initializer = 5;
  optional string doc_string = 10;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
  repeated ValueInfoProto value_info = 13;
}

message TensorProto {
  repeated int64 dims = 1;
  optional int32 data_type = 2;
  optional string name = 8;
  optional string doc_string = 12;
  optional bytes raw_data = 9;
}

message TensorShapeProto {
  message Dimension {
    oneof value {
      int64 dim_value = 1;
      string dim_param = 2;
    }
    optional string denotation = 3;
  }
  repeated Dimension dim = 1;
}

message TypeProto {
  message Tensor {
    optional int32 elem_type = 1;
    optional TensorShapeProto shape = 2;
  }
  oneof value {
    Tensor tensor_type = 1;
  }
  optional string denotation = 6;
}

message OperatorSetIdProto {
  optional string domain = 1;
  optional int64 version = 2;
}
`

/** TensorProto.DataType codes for the element types this writer handles (also Cast's `to`). */
export const OnnxDataType = { float32: 1, int64: 7 } as const
export type OnnxElementType = keyof typeof OnnxDataType

const AttributeType = { float: 1, int: 2, string: 3, floats: 6, ints: 7 } as const

export type OnnxAttribute =
  | { type: 'int'; value: number }
  | { type: 'ints'; value: readonly number[] }
  | { type: 'float'; value: number }
  | { type: 'floats'; value: readonly number[] }
  | { type: 'string'; value: string }

export interface OnnxNode {
  opType: string
  inputs: readonly string[]
  outputs: readonly string[]
  name?: string
  attributes?: Readonly<Record<string, OnnxAttribute>>
}

/** A graph input or output; a string dimension is a symbolic axis (dim_param), e.g. 'batch'. */
export interface OnnxValueInfo {
  name: string
  elementType: OnnxElementType
  shape: readonly (number | string)[]
}

export type OnnxInitializer =
  | { name: string; elementType: 'float32'; dims: readonly number[]; data: Float32Array }
  | { name: string; elementType: 'int64'; dims: readonly number[]; data: BigInt64Array }

export interface OnnxGraph {
  name: string
  nodes: readonly OnnxNode[]
  inputs: readonly OnnxValueInfo[]
  outputs: readonly OnnxValueInfo[]
  initializers: readonly OnnxInitializer[]
  docString?: string
}

export interface OnnxModel {
  graph: OnnxGraph
  /** ONNX IR version; 8 pairs with opset 17 and is read by onnxruntime >= 1.11. */
  irVersion?: number
  opsetVersion?: number
  producerName?: string
  producerVersion?: string
  docString?: string
  metadata?: Readonly<Record<string, string>>
}

let modelType: protobuf.Type | undefined
const modelProto = (): protobuf.Type =>
  (modelType ??= protobuf.parse(ONNX_SUBSET_PROTO).root.lookupType('onnx.ModelProto'))

const attributeMessage = (name: string, attribute: OnnxAttribute) => {
  const type = AttributeType[attribute.type]
  switch (attribute.type) {
    case 'int':
      return { name, type, i: attribute.value }
    case 'ints':
      return { name, type, ints: [...attribute.value] }
    case 'float':
      return { name, type, f: attribute.value }
    case 'floats':
      return { name, type, floats: [...attribute.value] }
    case 'string':
      return { name, type, s: Buffer.from(attribute.value, 'utf8') }
  }
}

const valueInfoMessage = (info: OnnxValueInfo) => ({
  name: info.name,
  type: {
    tensorType: {
      elemType: OnnxDataType[info.elementType],
      shape: { dim: info.shape.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
    },
  },
})

function initializerMessage(init: OnnxInitializer) {
  const expected = init.dims.reduce((n, d) => n * d, 1)
  if (init.data.length !== expected) {
    throw new RangeError(`initializer '${init.name}': ${init.data.length} values do not fill dims [${init.dims.join(', ')}] (${expected})`)
  }
  // raw_data is little-endian by spec; a view of the typed array avoids copying a large table.
  const rawData = Buffer.from(init.data.buffer, init.data.byteOffset, init.data.byteLength)
  return { name: init.name, dims: [...init.dims], dataType: OnnxDataType[init.elementType], rawData }
}

/**
 * Serialises `model` to ONNX protobuf bytes.
 *
 * @example
 *   const bytes = encodeOnnxModel({ graph: { name: 'id', nodes: [{ opType: 'Identity', inputs: ['x'], outputs: ['y'] }],
 *     inputs: [{ name: 'x', elementType: 'float32', shape: ['n'] }], outputs: [{ name: 'y', elementType: 'float32', shape: ['n'] }],
 *     initializers: [] } })
 */
export function encodeOnnxModel(model: OnnxModel): Uint8Array {
  if (endianness() !== 'LE') throw new Error('encodeOnnxModel: raw_data must be little-endian; big-endian hosts are not supported')
  const { graph } = model
  const message = {
    irVersion: model.irVersion ?? 8,
    opsetImport: [{ domain: '', version: model.opsetVersion ?? 17 }],
    producerName: model.producerName ?? 'funnel',
    ...(model.producerVersion !== undefined && { producerVersion: model.producerVersion }),
    ...(model.docString !== undefined && { docString: model.docString }),
    metadataProps: Object.entries(model.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: graph.name,
      ...(graph.docString !== undefined && { docString: graph.docString }),
      node: graph.nodes.map((node, index) => ({
        name: node.name ?? `${node.opType}_${index}`,
        opType: node.opType,
        input: [...node.inputs],
        output: [...node.outputs],
        attribute: Object.entries(node.attributes ?? {}).map(([name, value]) => attributeMessage(name, value)),
      })),
      initializer: graph.initializers.map(initializerMessage),
      input: graph.inputs.map(valueInfoMessage),
      output: graph.outputs.map(valueInfoMessage),
    },
  }
  const type = modelProto()
  const problem = type.verify(message)
  if (problem !== null) throw new Error(`encodeOnnxModel: invalid model message: ${problem}`)
  return type.encode(message).finish()
}
