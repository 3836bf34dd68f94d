import { initBackend, tf } from './src/runtime';
function time(label: string, flops: number, f: () => tf.Tensor) { f().dispose(); const t=performance.now(); const reps=5; for (let i=0;i<reps;i++){const c=f(); c.dataSync(); c.dispose();} const ms=(performance.now()-t)/reps; console.log(label, ms.toFixed(2),'ms', (flops/ms/1e6).toFixed(1),'GFLOP/s'); }
(async () => {
  await initBackend();
  const q2 = tf.randomUniform([2048, 32]); const kt2 = tf.randomUniform([32, 2000]);
  time('2d qk', 2*2048*2000*32, () => tf.matMul(q2,kt2));
  const s2 = tf.randomUniform([2048, 2000]); const v2 = tf.randomUniform([2000,32]);
  time('2d av', 2*2048*2000*32, () => tf.matMul(s2,v2));
  const q = tf.randomUniform([2, 2048, 32]); const kt = tf.randomUniform([2, 32, 2000]);
  time('3d qk', 2*2*2048*2000*32, () => tf.matMul(q,kt));
  const a = tf.randomUniform([2, 512, 512]); const b = tf.randomUniform([2, 512, 512]);
  time('3d 512', 2*2*512*512*512, () => tf.matMul(a,b));
  const a1 = tf.randomUniform([1, 512, 512]); const b1 = tf.randomUniform([1, 512, 512]);
  time('3d b1 512', 2*512*512*512, () => tf.matMul(a1,b1));
  const s = tf.randomUniform([2, 2048, 2000]);
  time('softmax', 0, () => tf.softmax(s));
  const x = tf.randomUniform([2000, 256]);
  time('rmsnorm', 0, () => tf.tidy(()=> tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x),-1,true),1e-5)))));
})();
