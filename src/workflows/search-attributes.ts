/**
 * Search attributes that make runs findable in the Web UI ("ISheepStage = 'iterating'").
 * Register them once per namespace: the dev server started by isheep does it; on a cluster run
 *   temporal operator search-attribute create --name ISheepIteration --type Int
 *   temporal operator search-attribute create --name ISheepStage --type Keyword
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const ITERATION_ATTRIBUTE = defineSearchAttributeKey('ISheepIteration', SearchAttributeType.INT);
export const STAGE_ATTRIBUTE = defineSearchAttributeKey('ISheepStage', SearchAttributeType.KEYWORD);

/** For `temporal server start-dev --search-attribute NAME=TYPE`. */
export const DEV_SERVER_SEARCH_ATTRIBUTES = ['ISheepIteration=Int', 'ISheepStage=Keyword'];
