'use strict';
/**
 * Validate a dashboard JSON against the published schema of the targeted Grafana version: the types of
 * @grafana/schema (pinned in package-lock.json), checked by the TypeScript compiler.
 *
 * Usage: node schema_check.cjs <dashboard.json> <work dir inside the npm install>
 *
 * The dashboard becomes a TypeScript object literal typed as the schema's Dashboard (v1, "schemaVersion"
 * JSON), each panel typed with its plugin's published Options and FieldConfig. Object literals get
 * TypeScript's excess-property check, so an unknown or misspelt key fails, as does a wrong value type or
 * enum value. Schema enums are compared by their JSON values. Exit code 1 lists every diagnostic.
 */

const fs = require('fs');
const path = require('path');
const ts = require('typescript');

// Panel type -> the name @grafana/schema uses in its panelcfg module path and exports.
const PANEL_CFG = {
  stat: 'Stat',
  candlestick: 'Candlestick',
  timeseries: 'TimeSeries',
  xychart: 'XYChart',
  table: 'Table',
  barchart: 'BarChart',
};

// Panels without a FieldConfig export in @grafana/schema take any custom field config.
const NO_CUSTOM_FIELD_CONFIG = new Set(['stat']);

function source(dashboard) {
  const lines = ["import type { Dashboard, FieldConfigSource, Panel, RowPanel } from '@grafana/schema';"];
  for (const [type, name] of Object.entries(PANEL_CFG)) {
    const module = `@grafana/schema/dist/esm/raw/composable/${type}/panelcfg/x/${name}PanelCfg_types.gen`;
    const custom = NO_CUSTOM_FIELD_CONFIG.has(type) ? '' : `, FieldConfig as ${name}FieldConfig`;
    lines.push(`import type { Options as ${name}Options${custom} } from '${module}';`);
  }
  lines.push(
    '// JSON spelling of a schema type: enum members become their string values.',
    'type Json<T> = T extends string ? `${T}` : T extends number | boolean | null | undefined ? T',
    '  : T extends ReadonlyArray<infer U> ? Array<Json<U>> : T extends object ? { [K in keyof T]: Json<T[K]> } : T;',
    "type Typed<O, C> = Omit<Json<Panel>, 'options' | 'fieldConfig'> & {",
    '  options: Json<O>;',
    '  fieldConfig: Json<FieldConfigSource<C>>;',
    '};'
  );
  const names = [];
  for (const panel of dashboard.panels ?? []) {
    const name = `panel${names.length}`;
    names.push(name);
    const literal = JSON.stringify(panel, null, 2);
    if (panel.type === 'row') {
      lines.push(`const ${name}: Json<RowPanel> = ${literal};`);
      continue;
    }
    const cfg = PANEL_CFG[panel.type];
    if (!cfg) {
      throw new Error(`panel type ${panel.type} has no schema mapping here; add it to PANEL_CFG`);
    }
    const custom = NO_CUSTOM_FIELD_CONFIG.has(panel.type) ? 'Record<string, unknown>' : `${cfg}FieldConfig`;
    lines.push(`const ${name}: Typed<${cfg}Options, ${custom}> = ${literal};`);
  }
  const { panels, ...rest } = dashboard;
  lines.push(`export const dashboard: Json<Dashboard> = { ...${JSON.stringify(rest, null, 2)}, panels: [${names.join(', ')}] };`);
  return lines.join('\n') + '\n';
}

function main() {
  const [input, workDir] = process.argv.slice(2);
  if (!input || !workDir) {
    throw new Error('usage: node schema_check.cjs <dashboard.json> <work dir inside the npm install>');
  }
  fs.mkdirSync(workDir, { recursive: true });
  const file = path.join(workDir, 'dashboard.ts');
  fs.writeFileSync(file, source(JSON.parse(fs.readFileSync(input, 'utf8'))));
  const program = ts.createProgram([file], {
    strict: true,
    noEmit: true,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    target: ts.ScriptTarget.ES2022,
    skipLibCheck: true,
    types: [],
  });
  const diagnostics = ts.getPreEmitDiagnostics(program);
  const host = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => workDir, getNewLine: () => '\n' };
  const schema = require('@grafana/schema/package.json').version;
  if (diagnostics.length) {
    process.stdout.write(ts.formatDiagnostics(diagnostics, host));
    process.stdout.write(`${diagnostics.length} schema error(s) against @grafana/schema ${schema}\n`);
    process.exit(1);
  }
  process.stdout.write(`valid against @grafana/schema ${schema} (typescript ${ts.version})\n`);
}

main();
