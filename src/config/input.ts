/**
 * What a run is started with, from anywhere (the Web UI's form, `isheep start`, a user's own client): a config
 * object that may name a `preset`, merged under its own fields, so `{"name": "x", "preset": "demo"}` is a demo run.
 * Pure (the workflow resolves its input with it too).
 */
import { presets, withPreset, type PresetName } from './presets.js';
import { ConfigError, parseConfig, type RunConfig } from './schema.js';

export const PRESET_NAMES = Object.keys(presets) as PresetName[];

/** The input with its preset (if any) merged under it; the `preset` key itself is gone. */
export function resolvePreset(raw: unknown): unknown {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || !('preset' in raw)) return raw;
  const { preset, ...rest } = raw as Record<string, unknown>;
  if (typeof preset !== 'string' || !PRESET_NAMES.includes(preset as PresetName)) {
    throw new ConfigError([`preset: must be one of ${PRESET_NAMES.map((p) => JSON.stringify(p)).join(', ')}, got ${JSON.stringify(preset)}`]);
  }
  return withPreset(preset as PresetName, rest);
}

/** resolvePreset, then the schema: the run config, or a ConfigError naming every bad field. */
export function parseRunInput(raw: unknown): RunConfig {
  return parseConfig(resolvePreset(raw));
}
