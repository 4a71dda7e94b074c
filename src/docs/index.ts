import setup from './setup.md';
import auth from './auth.md';
import database from './database.md';
import rls from './rls.md';
import storage from './storage.md';
import functions from './functions.md';
import schedules from './schedules.md';
import ai from './ai.md';

/**
 * Task-first guides to building an app on this backend, written for this project and kept true by
 * test/e2e/docs.test.ts, which runs their code blocks against the embedded backend. `{{BASE_URL}}` and
 * `{{ANON_KEY}}` are filled in with the backend's own when served.
 */
export interface Guide {
  topic: string;
  title: string;
  text: string;
}

const titleOf = (text: string) => /^# (.+)$/m.exec(text)?.[1] ?? '';

export const GUIDES: readonly Guide[] = Object.entries({ setup, auth, database, rls, storage, functions, schedules, ai }).map(([topic, text]) => ({ topic, title: titleOf(text), text }));

export const TOPICS = GUIDES.map((g) => g.topic) as [string, ...string[]];

/** A guide as an agent reads it: this backend's URL and anon key in place, test-only notes left out. */
export function renderGuide(guide: Guide, values: { baseUrl: string; anonKey?: string }): string {
  return guide.text
    .replace(/<!-- test setup:[^>]*-->\n\n?/g, '')
    .replaceAll('{{BASE_URL}}', values.baseUrl)
    .replaceAll('{{ANON_KEY}}', values.anonKey ?? '<anon key: get-backend-metadata>');
}
