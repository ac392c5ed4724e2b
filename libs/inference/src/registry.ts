import type { InferenceEngine } from './engine.js';
import { LiteRtEngine } from './litert-engine.js';
import { OnnxEngine, type OnnxOptions } from './onnx-engine.js';
import { TfjsEngine } from './tfjs-engine.js';

/** The engines this agent runs, by the name manifests use; enrolment reports the same list. */
export function createEngines(onnx: OnnxOptions = {}): ReadonlyMap<string, InferenceEngine> {
  return new Map<string, InferenceEngine>([new OnnxEngine(onnx), new LiteRtEngine(), new TfjsEngine()].map((engine) => [engine.name, engine]));
}

export const engineNames = (): string[] => [...createEngines().keys()];
