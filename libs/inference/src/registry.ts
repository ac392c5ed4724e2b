import type { InferenceEngine } from './engine.js';
import { LiteRtEngine } from './litert-engine.js';
import { OnnxEngine } from './onnx-engine.js';
import { TfjsEngine } from './tfjs-engine.js';

/** The engines this agent runs, by the name manifests use; enrolment reports the same list. */
export function createEngines(): ReadonlyMap<string, InferenceEngine> {
  return new Map<string, InferenceEngine>([new OnnxEngine(), new LiteRtEngine(), new TfjsEngine()].map((engine) => [engine.name, engine]));
}

export const engineNames = (): string[] => [...createEngines().keys()];
