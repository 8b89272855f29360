// Where <herald-inbox>'s panel opens. The host page places the bell anywhere (left or right
// edge, bottom of a short window, a header that moves between layouts), so the panel is placed
// at run time, not by a stylesheet: beside the bell, flipped to the other side and shifted
// along it until it fits the viewport, and sized to what is left. Floating UI does the
// geometry (it also handles scrolling containers, transformed ancestors and layout shifts).
import { autoUpdate, computePosition, flip, offset, shift, size, type Placement } from '@floating-ui/dom';

/** Below this viewport width (CSS px) the panel is a full-width sheet at the bottom instead. */
export const SHEET_BELOW_PX = 480;
/** Space between the bell and the panel, px. */
const GAP_PX = 6;
/** The panel keeps this far from the viewport's edges, px. */
const MARGIN_PX = 8;

const PLACEMENTS: readonly Placement[] = [
  'bottom-end', 'bottom-start', 'bottom', 'top-end', 'top-start', 'top',
  'left', 'left-start', 'left-end', 'right', 'right-start', 'right-end',
];
/** Under the bell, its right edges lined up: where a header's bell at the right wants it. */
export const DEFAULT_PLACEMENT: Placement = 'bottom-end';

/** The `placement` attribute: one of Floating UI's twelve placements; anything else is the default. */
export function parsePlacement(value: string | null): Placement {
  const wanted = value?.trim().toLowerCase();
  return PLACEMENTS.find((placement) => placement === wanted) ?? DEFAULT_PLACEMENT;
}

/**
 * Keeps `panel` beside `bell` and inside the viewport while the page scrolls and resizes;
 * answers the function that stops following. The panel is marked `data-layout="popover"`
 * (with `data-placement`, the side it ended on) or `data-layout="sheet"` once placed.
 */
export function followBell(bell: HTMLElement, panel: HTMLElement, placement: () => Placement): () => void {
  const narrow = matchMedia(`(max-width: ${SHEET_BELOW_PX - 0.02}px)`);
  let following = true;
  const update = (): void => {
    if (narrow.matches) {
      // The stylesheet pins a sheet to the bottom edge; nothing to compute.
      panel.style.removeProperty('left');
      panel.style.removeProperty('top');
      panel.dataset.layout = 'sheet';
      delete panel.dataset.placement;
      return;
    }
    void computePosition(bell, panel, {
      strategy: 'fixed',
      placement: placement(),
      middleware: [
        offset(GAP_PX),
        flip({ padding: MARGIN_PX }),
        shift({ padding: MARGIN_PX }),
        size({
          padding: MARGIN_PX,
          // The stylesheet takes the smaller of these and the host's --herald-panel-* sizes.
          apply({ availableWidth, availableHeight, elements }) {
            elements.floating.style.setProperty('--_fit-width', `${Math.max(0, Math.floor(availableWidth))}px`);
            elements.floating.style.setProperty('--_fit-height', `${Math.max(0, Math.floor(availableHeight))}px`);
          },
        }),
      ],
    }).then(({ x, y, placement: placed }) => {
      if (!following) return;
      panel.style.left = `${x}px`;
      panel.style.top = `${y}px`;
      panel.dataset.layout = 'popover';
      panel.dataset.placement = placed;
    });
  };
  // Also on the viewport's resize, which is what crosses SHEET_BELOW_PX.
  const stop = autoUpdate(bell, panel, update);
  return () => {
    following = false;
    stop();
    delete panel.dataset.layout;
    delete panel.dataset.placement;
  };
}
