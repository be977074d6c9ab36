// The 18-character resident ID number's check character (GB 11643-1999), checked before sending
// so a typo is caught at once; the service checks it again (and the date and region).
const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK = "10X98765432";

export function validIdNumber(value) {
  if (!/^\d{17}[\dX]$/.test(value)) return false;
  const sum = WEIGHTS.reduce((acc, w, i) => acc + w * Number(value[i]), 0);
  return CHECK[sum % 11] === value[17];
}
