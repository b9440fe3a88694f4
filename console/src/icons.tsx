// Small inline SVG icons (no icon font or emoji: headless and minimal systems lack the fonts).
const paths = {
  folder: "M2 5a1 1 0 0 1 1-1h4l2 2h8a1 1 0 0 1 1 1v9a1 1 0 0 1-1 1H3a1 1 0 0 1-1-1z",
  file: "M5 2h7l4 4v12a1 1 0 0 1-1 1H5a1 1 0 0 1-1-1V3a1 1 0 0 1 1-1zm7 0v4h4",
  image: "M3 4h14a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1H3a1 1 0 0 1-1-1V5a1 1 0 0 1 1-1zm0 10 4-5 3 4 2-2 4 3",
  group: "M7 9a3 3 0 1 0 0-6 3 3 0 0 0 0 6zm6 0a3 3 0 1 0 0-6M1 17c0-3 3-5 6-5s6 2 6 5m0-5c3 0 6 2 6 5",
};

export function Icon(props: { name: keyof typeof paths }) {
  return (
    <svg class={`icon icon-${props.name}`} viewBox="0 0 20 20" width="20" height="20" aria-hidden="true">
      <path d={paths[props.name]} />
    </svg>
  );
}
