// Opens a speedscope file in speedscope's own app (the npm package's offline build, served on
// 127.0.0.1) in headless Chromium, acts as a user would, and prints what the app shows, one
// fact a line, for tests/cli/speedscope_test.cc to check.
//
//   node show.mjs CHROMIUM PROFILE.json SCREENSHOT.png COMMAND...
//
// Commands, run in order:
//   select REGEX   the first profile whose name matches (the 'p' and 'n' keys)
//   view 1|2|3     time order, left heavy, sandwich (the '1', '2', '3' keys)
//   column F       the frames under the pointer at fraction F of the chart's width, top down
//   table          the sandwich view's rows
// Lines printed:
//   profile TEXT                       the toolbar's profile: "name (index/count)"
//   column F: TIP | TIP ...            each tooltip's first line: "300.30ms (45%) main_spin"
//   row TOTAL | SELF | NAME            a row of the sandwich table
//   error TEXT                         anything the page or the app reported as an error
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {chromium} from 'playwright-core';

const [chromiumPath, profilePath, screenshotPath, ...commands] = process.argv.slice(2);
const app = path.join(path.dirname(fileURLToPath(import.meta.url)),
                      'node_modules', 'speedscope', 'dist', 'release');

// The app and the profile, over HTTP: speedscope fetches #profileURL, which file:// forbids.
const server = http.createServer((request, response) => {
  const url = new URL(request.url, 'http://127.0.0.1');
  const file = url.pathname === '/profile.json'
                   ? profilePath
                   : path.join(app, path.normalize(url.pathname).replace(/^\/+/, ''));
  fs.readFile(file, (error, data) => {
    response.writeHead(error ? 404 : 200);
    response.end(error ? '' : data);
  });
});
await new Promise(resolve => server.listen(0, '127.0.0.1', resolve));

// speedscope draws with WebGL: SwiftShader stands in for the GPU. The closed network here
// refuses Chromium's background connections, so they are turned off.
const browser = await chromium.launch({
  executablePath: chromiumPath,
  args: ['--no-sandbox', '--enable-unsafe-swiftshader', '--disable-background-networking',
         '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic'],
});
try {
  const page = await browser.newPage({viewport: {width: 1200, height: 800}});
  page.on('pageerror', error => console.log(`error page: ${error.message}`));
  page.on('console', message => {
    if (message.type() === 'error') console.log(`error console: ${message.text()}`);
  });
  page.on('dialog', dialog => {
    console.log(`error dialog: ${dialog.message()}`);
    dialog.dismiss();
  });

  // The page's text below the toolbar's last tab ("Help"): a tooltip, a table.
  const text = () => page.evaluate(() => new Promise(resolve => {
    // After an animation frame the app has drawn what the last event changed.
    requestAnimationFrame(() => resolve(document.body.innerText));
  }));
  const below = async () => {
    const all = await text();
    const help = all.indexOf('Help\n');
    return help < 0 ? [] : all.slice(help + 5).split('\n');
  };
  const toolbar = async () => (await text()).split('\n')[1] ?? '';

  const port = server.address().port;
  await page.goto(`http://127.0.0.1:${port}/index.html#profileURL=/profile.json`);
  await page.waitForFunction(
      () => /Something went wrong|Help/.test(document.body.innerText) &&
            !document.body.innerText.includes('Welcome to'),
      null, {timeout: 60000});
  if ((await text()).includes('Something went wrong')) console.log('error app: import failed');
  console.log(`profile ${await toolbar()}`);

  for (let i = 0; i < commands.length; ++i) {
    const command = commands[i];
    if (command === 'select') {
      const wanted = new RegExp(commands[++i]);
      const count = Number(/\((\d+)\/(\d+)\)$/.exec(await toolbar())?.[2] ?? 1);
      for (let k = 0; k < count; ++k) await page.keyboard.press('p');
      let found = wanted.test(await toolbar());
      for (let k = 1; k < count && !found; ++k) {
        await page.keyboard.press('n');
        found = wanted.test(await toolbar());
      }
      console.log(found ? `profile ${await toolbar()}` : `error no profile matches ${wanted}`);
      await page.waitForTimeout(300);
    } else if (command === 'view') {
      await page.keyboard.press(commands[++i]);
      await page.waitForTimeout(300);  // the view's layout settles over a few frames
    } else if (command === 'column') {
      // The pointer moved down the chart as mousemove events in the page (Playwright's own
      // pointer waits for a frame at each step), each tooltip read after the app redraws.
      const fraction = Number(commands[++i]);
      const tips = await page.evaluate(async fraction => {
        const tips = [];
        const x = fraction * window.innerWidth;
        for (let y = 0; y < window.innerHeight; y += 4) {
          const target = document.elementFromPoint(x, y);
          if (target === null) continue;
          target.dispatchEvent(new MouseEvent('mousemove', {clientX: x, clientY: y, bubbles: true}));
          for (let k = 0; k < 3; ++k) await Promise.resolve();  // preact renders in microtasks
          const all = document.body.innerText;
          const help = all.indexOf('Help\n');
          const tip = help < 0 ? '' : all.slice(help + 5).split('\n')[0];
          if (tip !== '' && tip !== tips[tips.length - 1]) tips.push(tip);
        }
        return tips;
      }, fraction);
      await page.mouse.move(0, 0);
      console.log(`column ${commands[i]}: ${tips.join(' | ')}`);
    } else if (command === 'table') {
      // "Total\tSelf\tSymbol Name", then three lines a row: total, self, name (tab-indented).
      const lines = (await below()).slice(1).map(line => line.trim());
      for (let r = 0; r + 2 < lines.length; r += 3) {
        console.log(`row ${lines[r]} | ${lines[r + 1]} | ${lines[r + 2]}`);
      }
    } else {
      console.log(`error show.mjs: unknown command ${command}`);
    }
  }
  await page.screenshot({path: screenshotPath});
} finally {
  await browser.close();
  server.close();
}
