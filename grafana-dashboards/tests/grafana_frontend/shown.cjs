'use strict';
/**
 * What Grafana would show for each panel of the Argos dashboard, computed with Grafana's own published
 * frontend code (@grafana/data, pinned in package-lock.json to the Grafana version the dashboard targets).
 *
 * Usage: node shown.cjs <input.json> <output.json>
 *   input:  {"dashboard": <argos.json>, "frames": {"<panel id>": [<frame>, ...]}}
 *           a frame is {"refId", "fields": [{"name", "type", "values", "labels"?}]}, shaped like the
 *           grafana-clickhouse-datasource response (time values in epoch milliseconds).
 *   output: {"<panel id>": {"type", "pluginVersion", "targets", ...what the panel shows}}
 *
 * Pipeline per panel, as in Grafana: the frames get the panel's field config (applyFieldOverrides, with the
 * standard field-config properties registered as Grafana core registers them), then
 *   - stat:        getFieldDisplayValues with the panel's reduceOptions (the stat panel's own call);
 *   - timeseries / barchart / table: every field's display name (getFieldDisplayName);
 *   - candlestick: which field the panel maps to open/high/low/close/volume. The panel code is not on npm;
 *                  it looks a configured name up by field name or display name (public/app/plugins/panel/
 *                  candlestick/fields.ts, findField in public/app/features/dimensions/utils.ts);
 *   - xychart:     the saved series' frame/x/y/size matchers resolved with @grafana/data's getFieldMatcher on
 *                  number/time fields, as xychart's prepSeries does (public/app/plugins/panel/xychart/utils.ts).
 * Assertions live in the Python test that calls this script; this file only reports.
 */

const fs = require('fs');

// @grafana/data reads navigator at import time (it is written for browsers).
if (typeof globalThis.navigator === 'undefined') {
  globalThis.navigator = { userAgent: 'node', language: 'en-US', languages: ['en-US'] };
}

const data = require('@grafana/data');

const {
  FieldType,
  applyFieldOverrides,
  createDataFrame,
  createTheme,
  formattedValueToString,
  getFieldDisplayName,
  getFieldDisplayValues,
  getFieldMatcher,
  standardFieldConfigEditorRegistry,
} = data;

/**
 * The standard field-config properties, registered the way Grafana core does at start-up
 * (getAllStandardFieldConfigs in public/app/core/components/OptionsUI/registry.tsx): id, path, the
 * published override processor, and the field types each applies to. Editors are UI only and left out.
 */
function standardFieldConfigs() {
  const any = () => true;
  const numeric = (field) => field.type === FieldType.number;
  const notTime = (field) => field.type !== FieldType.time;
  const table = [
    ['unit', data.stringOverrideProcessor, any],
    ['min', data.numberOverrideProcessor, numeric],
    ['max', data.numberOverrideProcessor, numeric],
    ['decimals', data.numberOverrideProcessor, numeric],
    ['displayName', data.displayNameOverrideProcessor, any],
    ['color', data.identityOverrideProcessor, any],
    ['noValue', data.stringOverrideProcessor, any],
    ['links', data.dataLinksOverrideProcessor, any],
    ['mappings', data.valueMappingsOverrideProcessor, notTime],
    ['thresholds', data.thresholdsOverrideProcessor, any],
  ];
  return table.map(([id, process, shouldApply]) => ({
    id,
    path: id,
    name: id,
    process,
    shouldApply,
    override: () => null,
    editor: () => null,
    settings: {},
  }));
}

standardFieldConfigEditorRegistry.setInit(standardFieldConfigs);

const theme = createTheme();
const unresolved = new Set();

/** Dashboard variables are not part of this check: any `$` left in a shown text is reported. */
function replaceVariables(text) {
  if (typeof text === 'string' && text.includes('$')) {
    unresolved.add(text);
  }
  return text;
}

function toFrames(raw) {
  return raw.map((frame) =>
    createDataFrame({
      refId: frame.refId,
      name: frame.name,
      fields: frame.fields.map((f) => ({
        name: f.name,
        type: f.type,
        values: f.values,
        labels: f.labels,
        config: {},
      })),
    })
  );
}

function withFieldConfig(panel, frames) {
  return applyFieldOverrides({
    data: frames,
    fieldConfig: panel.fieldConfig ?? { defaults: {}, overrides: [] },
    replaceVariables,
    theme,
    timeZone: 'utc',
  });
}

function names(frames) {
  return frames.map((frame) =>
    frame.fields.map((field) => ({
      name: field.name,
      type: field.type,
      labels: field.labels ?? null,
      displayName: getFieldDisplayName(field, frame, frames),
    }))
  );
}

function statValues(panel, frames) {
  const shown = getFieldDisplayValues({
    data: frames,
    reduceOptions: panel.options?.reduceOptions ?? { calcs: [] },
    fieldConfig: panel.fieldConfig,
    replaceVariables,
    theme,
    timeZone: 'utc',
  });
  return shown.map((v) => ({
    title: v.display.title ?? null,
    text: formattedValueToString(v.display),
    numeric: Number.isFinite(v.display.numeric) ? v.display.numeric : null,
    field: v.colIndex === undefined ? null : frames[0].fields[v.colIndex].name,
  }));
}

/** findField of app/features/dimensions: a configured name matches a field's name or its display name. */
function findByName(frame, frames, wanted) {
  if (!wanted) {
    return undefined;
  }
  return frame.fields.find((f) => f.name === wanted || getFieldDisplayName(f, frame, frames) === wanted);
}

function candlestickFields(panel, frames) {
  const frame = frames[0];
  const configured = panel.options?.fields ?? {};
  const mapped = {};
  for (const key of ['open', 'high', 'low', 'close', 'volume']) {
    const field = findByName(frame, frames, configured[key]);
    mapped[key] = field ? { name: field.name, type: field.type } : null;
  }
  return mapped;
}

function xySeries(panel, frames) {
  const options = panel.options ?? {};
  const series = [];
  for (const cfg of options.series ?? []) {
    const frameIndex = cfg.frame?.matcher?.id === 'byIndex' ? cfg.frame.matcher.options : null;
    frames.forEach((frame, index) => {
      if (frameIndex !== null && frameIndex !== index) {
        return;
      }
      const numOrTime = frame.fields.filter((f) => f.type === FieldType.number || f.type === FieldType.time);
      const numbers = numOrTime.filter((f) => f.type === FieldType.number);
      const match = (dim, fields) => {
        if (!dim?.matcher) {
          return undefined;
        }
        const matcher = getFieldMatcher(dim.matcher);
        return fields.find((f) => matcher(f, frame, frames));
      };
      const x = match(cfg.x, numOrTime);
      const y = match(cfg.y, numbers.filter((f) => f !== x));
      const size = match(cfg.size, numbers);
      series.push({
        name: cfg.name?.fixed ?? (y ? getFieldDisplayName(y, frame, frames) : null),
        x: x ? { name: x.name, type: x.type } : null,
        y: y ? { name: y.name, type: y.type, points: y.values.filter((v) => v !== null).length } : null,
        size: size ? { name: size.name, type: size.type } : null,
      });
    });
  }
  return series;
}

function shownPanel(panel, rawFrames) {
  const frames = withFieldConfig(panel, toFrames(rawFrames));
  const out = {
    type: panel.type,
    title: panel.title,
    pluginVersion: panel.pluginVersion ?? null,
    targets: (panel.targets ?? []).map((t) => ({
      refId: t.refId,
      pluginVersion: t.pluginVersion ?? null,
      queryType: t.queryType ?? null,
      format: t.format ?? null,
    })),
    fields: names(frames),
  };
  if (panel.type === 'stat') {
    out.values = statValues(panel, frames);
  } else if (panel.type === 'candlestick') {
    out.candlestick = candlestickFields(panel, frames);
  } else if (panel.type === 'xychart') {
    out.mapping = panel.options?.mapping ?? null;
    out.series = xySeries(panel, frames);
  } else if (panel.type === 'barchart') {
    const frame = frames[0];
    const x = findByName(frame, frames, panel.options?.xField);
    out.xField = x ? x.name : null;
  }
  return out;
}

function main() {
  const [input, output] = process.argv.slice(2);
  if (!input || !output) {
    throw new Error('usage: node shown.cjs <input.json> <output.json>');
  }
  const { dashboard, frames } = JSON.parse(fs.readFileSync(input, 'utf8'));
  const report = { grafanaData: require('@grafana/data/package.json').version, panels: {} };
  for (const panel of dashboard.panels ?? []) {
    if (panel.type === 'row' || !(String(panel.id) in frames)) {
      continue;
    }
    report.panels[String(panel.id)] = shownPanel(panel, frames[String(panel.id)]);
  }
  report.unresolvedTemplates = [...unresolved];
  fs.writeFileSync(output, JSON.stringify(report, null, 2));
}

main();
