// client/examples/vue (Vue 3, @herald/vue) built with Vite from the packed tarballs and run
// in Chromium against a real Herald; the cases are in framework-app-cases.ts.
import { frameworkAppTests } from './framework-app-cases.js';

frameworkAppTests('vue');
