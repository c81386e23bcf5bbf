// Relayout of a streamed chunk, for class dims whose own layout makes the kernels slow.
//
// A chunk is a compact (count, C, width) block: `count` outer indices, C classes, `width` inner
// positions. The kernels are fast on two layouts and slow between them:
// - rows (width 1, C contiguous per position) is fast for long rows and slow for short ones: a few
//   classes leave the per-position scalar work (target lookup, log, reductions) to dominate;
// - columns (one long run of positions per class) is fast when the run is long: the column kernel
//   vectorises across positions, and a run of 2-15 positions (NCHW with small L) wastes its lanes.
// Short rows and short columns are therefore regrouped into one long column block (C, count*width),
// and probability targets, whose column kernel is the slow one, into rows (count*width, C). Results
// go back the same way. Both copies stay within the chunk, which is L2-resident.
//
// mode 0: (count, C, width) -> (C, count*width)   mode 1: its inverse
// mode 2: (count, C, width) -> (count*width, C)   mode 3: its inverse
// Each loop nest writes its destination in order.

import { at } from "./math";

export function relayout<T>(src: usize, dst: usize, count: i32, C: i32, width: i32, mode: i32): void {
  const positions = count * width;
  if (mode == 0) {
    for (let c = 0; c < C; c++) {
      const d = at<T>(dst, <usize>c * positions);
      if (width == 1) {
        for (let o = 0; o < count; o++) store<T>(at<T>(d, o), load<T>(at<T>(src, <usize>o * C + c)));
      } else {
        for (let o = 0; o < count; o++) {
          const s = at<T>(src, (<usize>o * C + c) * width);
          for (let l = 0; l < width; l++) store<T>(at<T>(d, <usize>o * width + l), load<T>(at<T>(s, l)));
        }
      }
    }
  } else if (mode == 1) {
    for (let o = 0; o < count; o++) {
      for (let c = 0; c < C; c++) {
        const d = at<T>(dst, (<usize>o * C + c) * width);
        const s = at<T>(src, <usize>c * positions + <usize>o * width);
        for (let l = 0; l < width; l++) store<T>(at<T>(d, l), load<T>(at<T>(s, l)));
      }
    }
  } else if (mode == 2) {
    for (let o = 0; o < count; o++) {
      const s = at<T>(src, <usize>o * C * width);
      const d = at<T>(dst, <usize>o * width * C);
      for (let l = 0; l < width; l++) {
        for (let c = 0; c < C; c++) store<T>(at<T>(d, <usize>l * C + c), load<T>(at<T>(s, <usize>c * width + l)));
      }
    }
  } else {
    for (let o = 0; o < count; o++) {
      const s = at<T>(src, <usize>o * width * C);
      const d = at<T>(dst, <usize>o * C * width);
      for (let c = 0; c < C; c++) {
        for (let l = 0; l < width; l++) store<T>(at<T>(d, <usize>c * width + l), load<T>(at<T>(s, <usize>l * C + c)));
      }
    }
  }
}
