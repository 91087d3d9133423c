"""Satisfaction analysis: pure pandas/scipy, no Flask, no database (STYLE.md §8).

Modules: figures (percentages, indices, roll-ups, periods), inference (Wilson, verdicts,
Newcombe, Holm, funnel limits), targets (targets as data + evaluation), report (the standard
report and exports), sampling (sample size, allocation, selection), weights (weighted
estimates for the sampled survey). Functions take DataFrames and return new ones; inputs are
never mutated. Percentages are 0–100 in figure tables; inference works on proportions 0–1.

Input contract (what the database adapter must produce):

counts frame — one row per cell:
    dimension columns, any of: questionnaire (str), version (int), unit (str unit code),
        counter (str), field (str code, e.g. 'dat-dai'), procedure (str),
        channel ('web'|'counter'|'dossier'|'paper'|'phone'|'post'),
        source ('feedback'|'sample', REQUIRED: the two are never pooled, DOMAIN.md §2),
        period (pandas Period, or str label), any demographic item key;
    item (str item key); code (int: 1–5 satisfaction, 0 = no opinion, counted but not in
        denominators; non-satisfaction items have their own codes and must be filtered out
        or named through `items=`); n (int respondents giving that code);
    optional flagged (bool) and flag_reason (str): flagged rows are excluded by default and
        reported in `exclusions` / the `n_excluded` column.
    Categorical dtypes for dimension columns are welcome (faster grouping), not required.

respondent frame — long: response_id (int), the same dimension columns (+ flagged,
    flag_reason per response), item, code; one row per response per answered coded item.
    `figures.to_counts` turns it into a counts frame; comprehensive satisfaction needs it.

questionnaire structure — DataFrame or list of dicts with item, element, weight
    (questionnaires.loader.Questionnaire.structure()), plus a rollup rule: a loader Rollup or
    a mapping with element ('mean_of_criteria'|'pooled'), overall ('mean_of_elements'|
    'pooled'|'weighted'), weights ({element: weight}), overall_item (key or None),
    comprehensive (bool).

unit tree — DataFrame with unit, parent (None for a root), name, kind; any depth. Rolling up
    gives each ancestor the pooled counts of its whole subtree.

targets — targets/*.yaml, loaded by `targets.load_targets()` into frozen Target objects.
"""
