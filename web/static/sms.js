"use strict";
// SMS encoding and parts, mirroring domain/sms.py (F18): GSM-7 fits 160 characters in one
// part and 153 per part of a longer message, extension characters take two septets;
// anything else sends the whole text as UCS-2, 70 in one part and 67 per part, characters
// beyond the Basic Multilingual Plane taking two units.

const GSM7_BASIC = new Set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
  "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà");
const GSM7_EXTENSION = new Set("^{}\\[~]|€\f");

function gsm7Units(text) {
  let units = 0;
  for (const char of text) { // iterates code points, as Python does
    if (GSM7_BASIC.has(char)) units += 1;
    else if (GSM7_EXTENSION.has(char)) units += 2;
    else return null;
  }
  return units;
}

function smsSegments(text) {
  let units = gsm7Units(text);
  let encoding = { name: "GSM-7", single: 160, multi: 153 };
  if (units === null) {
    encoding = { name: "UCS-2", single: 70, multi: 67 };
    units = 0;
    for (const char of text) units += char.codePointAt(0) > 0xffff ? 2 : 1;
  }
  const parts = units <= encoding.single ? 1 : Math.ceil(units / encoding.multi);
  return { encoding: encoding.name, units, parts, characters: [...text].length };
}
