// Counts each component's renders in window.heraldRenders, so you can watch in the console
// (and the tests check) that a change re-renders only the components that read it.
import { onBeforeMount, onBeforeUpdate } from 'vue';

export function countRenders(name) {
  const count = () => {
    const counts = (globalThis.heraldRenders ??= {});
    counts[name] = (counts[name] ?? 0) + 1;
  };
  onBeforeMount(count);
  onBeforeUpdate(count);
}
