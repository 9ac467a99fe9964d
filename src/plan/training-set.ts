// The engine-independent plan of a point-in-time training set: which views and features, under
// which output names, which label columns carry the entity keys and the label time, and whether a
// row must also have arrived (ingested_at) before the label time. Pure: no fs, no engine.

import type { AggKind } from '../aggregate/kinds.js';
import { AsofError } from '../errors.js';
import type { Feature, Project, Source, View } from '../spec/project.js';
import { selectViews } from '../spec/select.js';
import type { CutoffRule } from '../time/index.js';

export type TrainingSetMode = 'exact' | 'partitions';

/**
 * Kinds computed from per-entity running totals looked up with ASOF joins (no join blow-up);
 * the others are aggregated over a range join of label points to events.
 */
export const PREFIX_KINDS: readonly AggKind[] = ['count', 'sum', 'avg', 'exists'];

export interface TrainingFeature {
  feature: Feature;
  /** The output column: the feature's name, or `<view>__<feature>` with --full-names. */
  output: string;
  /** Whether it is computed from running totals (see PREFIX_KINDS). */
  prefix: boolean;
}

export interface TrainingViewPlan {
  view: View;
  source: Source;
  features: TrainingFeature[];
  /** The source's arrival column when rows count only once arrived before the label time. */
  arrivalColumn: string | undefined;
  /**
   * days_since_last counts to the as_of_date whose cutoff is the label time: for an end_of_day
   * view the local date of the instant just before t, for start_of_day the local date of t.
   * So a label at D+1 00:00 sees exactly the partition of D.
   */
  referenceRule: CutoffRule;
}

export interface TrainingSetPlan {
  mode: TrainingSetMode;
  timezone: string;
  labelsFile: string;
  timeColumn: string;
  /** The label file's columns, kept as they are, in order. */
  labelColumns: string[];
  views: TrainingViewPlan[];
}

export interface TrainingSetRequest {
  labelsFile: string;
  labelColumns: string[];
  timeColumn: string;
  views?: string[];
  fullNames?: boolean;
  ignoreArrival?: boolean;
  mode?: TrainingSetMode;
}

export function planTrainingSet(project: Project, req: TrainingSetRequest): TrainingSetPlan {
  const views = selectViews(project, req.views);
  if (!req.labelColumns.includes(req.timeColumn)) {
    throw new AsofError(
      'usage',
      `the labels have no time column '${req.timeColumn}' (found: ${req.labelColumns.join(', ')})`,
      { file: req.labelsFile, dataColumn: req.timeColumn },
      'name the label time column with --time-column',
    );
  }
  for (const v of views) {
    const missing = v.keys.find((k) => !req.labelColumns.includes(k));
    if (missing !== undefined) {
      throw new AsofError(
        'contract',
        `the labels have no column '${missing}', the key of entity '${v.entity}' that view '${v.name}' needs (found: ${req.labelColumns.join(', ')})`,
        { file: req.labelsFile, dataColumn: missing },
        `add the column '${missing}' to the labels, or leave view '${v.name}' out with --views`,
      );
    }
  }
  const taken = new Map<string, string>(req.labelColumns.map((c) => [c, 'a label column']));
  const planned = views.map((view): TrainingViewPlan => {
    const source = project.sources[view.source];
    if (!source) throw new Error(`view ${view.name} names unknown source ${view.source}`);
    const features = view.features.map((feature): TrainingFeature => {
      const output = req.fullNames ? `${view.name}__${feature.name}` : feature.name;
      const other = taken.get(output);
      if (other !== undefined) {
        throw new AsofError(
          'usage',
          `output column '${output}' of view '${view.name}' clashes with ${other}`,
          { file: project.specFile, specPath: `views.${view.name}.features.${feature.name}` },
          req.fullNames
            ? 'rename the label column'
            : 'use --full-names to name feature columns <view>__<feature>',
        );
      }
      taken.set(output, `feature '${feature.name}' of view '${view.name}'`);
      return { feature, output, prefix: PREFIX_KINDS.includes(feature.agg) };
    });
    return {
      view,
      source,
      features,
      arrivalColumn: req.ignoreArrival ? undefined : source.ingestedAt,
      referenceRule: view.cutoff,
    };
  });
  return {
    mode: req.mode ?? 'exact',
    timezone: project.timezone,
    labelsFile: req.labelsFile,
    timeColumn: req.timeColumn,
    labelColumns: req.labelColumns,
    views: planned,
  };
}
