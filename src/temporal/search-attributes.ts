import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * The search attributes every media task carries, so operators find it in the Temporal UI
 * (e.g. `Model="seedance-1" AND TaskStatus="failed"`). Pure: workflows import this file too.
 */
export const SearchAttributes = {
  Model: defineSearchAttributeKey('Model', SearchAttributeType.KEYWORD),
  /** Every channel the task tried, in order. */
  Channel: defineSearchAttributeKey('Channel', SearchAttributeType.KEYWORD_LIST),
  ApiKeyId: defineSearchAttributeKey('ApiKeyId', SearchAttributeType.KEYWORD),
  AccountId: defineSearchAttributeKey('AccountId', SearchAttributeType.KEYWORD),
  TaskKind: defineSearchAttributeKey('TaskKind', SearchAttributeType.KEYWORD),
  TaskStatus: defineSearchAttributeKey('TaskStatus', SearchAttributeType.KEYWORD),
} as const;

/** Name -> type, for registering them on a Temporal server (the dev server's --search-attribute). */
export const searchAttributeRegistrations: Record<string, 'Keyword' | 'KeywordList'> = {
  Model: 'Keyword',
  Channel: 'KeywordList',
  ApiKeyId: 'Keyword',
  AccountId: 'Keyword',
  TaskKind: 'Keyword',
  TaskStatus: 'Keyword',
};
