import csv, math, statistics as st, json
L=32
import os
D=os.path.dirname(os.path.abspath(__file__))+'/'
# ---------- linear ----------
rows=list(csv.DictReader(open(D+'mlp_tp1.csv')))
ops=['input_layernorm','attn_pre_proj','attn_rope','attn_post_proj','post_attention_layernorm','mlp_up_proj','mlp_act','mlp_down_proj','add']
by={}
for r in rows:
    by.setdefault(int(r['num_tokens']),[]).append(L*sum(float(r[o]) for o in ops))
lin={t:st.median(v) for t,v in by.items()}
emb={}
for r in rows: emb.setdefault(int(r['num_tokens']),[]).append(float(r['emb']))
LIN_X=[1,2,4,8,16,32,64,72,128,136,256,288,384,392,512,992,1472,2048,3072,4096]
def interp(xs,ys,x):
    if x<=xs[0]: return ys[0]*(x/xs[0]) if False else ys[0]
    for i in range(1,len(xs)):
        if x<=xs[i]:
            f=(x-xs[i-1])/(xs[i]-xs[i-1]); return ys[i-1]+f*(ys[i]-ys[i-1])
    # extrapolate last segment
    f=(x-xs[-2])/(xs[-1]-xs[-2]); return ys[-2]+f*(ys[-1]-ys[-2])
def devs(xs,ys,pts):
    d=[ (interp(xs,ys,x)-y)/y for x,y in pts]
    a=sorted(abs(v) for v in d)
    return dict(n=len(d), median_abs=round(st.median(a),4), p90_abs=round(a[int(0.9*(len(a)-1))],4), max_abs=round(a[-1],4),
                mean_signed=round(sum(d)/len(d),4))
lin_y=[round(lin[x],3) for x in LIN_X]
held=[(t,v) for t,v in lin.items() if t not in LIN_X]
res={'linear':{'tokens':LIN_X,'ms':lin_y,'fit_all_rows':devs(LIN_X,lin_y,list(lin.items())),'fit_heldout_rows':devs(LIN_X,lin_y,held),
     'emb_ms_range':[min(min(v) for v in emb.values()),max(max(v) for v in emb.values())]}}
# ---------- decode ----------
dec=[(int(r['batch']),int(r['kv']),float(r['decode_med'])) for r in csv.DictReader(open(D+'decode.csv'))]
pts=[(b*k, L*t) for b,k,t in dec]
# geometric bins factor 2 on total context
def binned(pts, lo, factor=2.0):
    bins={}
    for x,y in pts:
        i=int(math.floor(math.log(x/lo,factor)+1e-9)); bins.setdefault(i,[]).append((x,y))
    out=[]
    for i in sorted(bins):
        xs=[p[0] for p in bins[i]]; ys=[p[1] for p in bins[i]]
        out.append((st.median(xs), st.median(ys), len(xs)))
    return out
db=binned(pts,32)
DX=[int(round(x)) for x,_,_ in db]; DY=[round(y,4) for _,y,_ in db]
res['decode']={'context_tokens':DX,'ms':DY,'bin_counts':[n for *_,n in db],'fit_all_rows':devs(DX,DY,pts),
  'rows':len(pts),'kv_values':sorted(set(k for _,k,_ in dec)),'batch_range':[min(b for b,_,_ in dec),max(b for b,_,_ in dec)],
  'max_context':max(x for x,_ in pts)}
# subsets
res['decode']['fit_kv>=256']=devs(DX,DY,[(b*k,L*t) for b,k,t in dec if k>=256])
res['decode']['fit_kv=32']=devs(DX,DY,[(b*k,L*t) for b,k,t in dec if k==32])
# 2-var least squares per layer: t = a + p*b + q*(b*k)
import itertools
n=len(dec)
X=[[1.0,b,b*k] for b,k,t in dec]; Y=[t for *_,t in dec]
def lstsq(X,Y):
    m=len(X[0]); A=[[sum(X[r][i]*X[r][j] for r in range(len(X))) for j in range(m)] for i in range(m)]
    B=[sum(X[r][i]*Y[r] for r in range(len(X))) for i in range(m)]
    # gaussian elimination
    for i in range(m):
        p=max(range(i,m),key=lambda r:abs(A[r][i])); A[i],A[p]=A[p],A[i]; B[i],B[p]=B[p],B[i]
        for r in range(i+1,m):
            f=A[r][i]/A[i][i]
            for c in range(i,m): A[r][c]-=f*A[i][c]
            B[r]-=f*B[i]
    x=[0]*m
    for i in reversed(range(m)): x[i]=(B[i]-sum(A[i][c]*x[c] for c in range(i+1,m)))/A[i][i]
    return x
co=lstsq(X,Y)
rel=sorted(abs((co[0]+co[1]*b+co[2]*b*k)-t)/t for b,k,t in dec)
res['decode']['twovar_per_layer']={'intercept_ms':co[0],'per_seq_ms':co[1],'per_kv_token_ms':co[2],'median_abs':st.median(rel),'p90_abs':rel[int(.9*(len(rel)-1))],'max_abs':rel[-1]}
# ---------- prefill ----------
pre=[(int(r['chunk']),int(r['kv']),float(r['prefill_med'])) for r in csv.DictReader(open(D+'prefill.csv'))]
def pairs(n,c): return n*c+n*(n+1)//2
pp=[(pairs(n,c),L*t) for n,c,t in pre]
pb=binned(pp,2000)
PX=[int(round(x)) for x,_,_ in pb]; PY=[round(y,4) for _,y,_ in pb]
res['prefill']={'pairs':PX,'ms':PY,'bin_counts':[n for *_,n in pb],'fit_all_rows':devs(PX,PY,pp),'rows':len(pp),
   'chunks':sorted(set(n for n,_,_ in pre)),'max_pairs':max(x for x,_ in pp)}
# alt x = n*(c+n)
pa=[(n*(c+n),L*t) for n,c,t in pre]
ab=binned(pa,2000); AX=[x for x,_,_ in ab]; AY=[y for _,y,_ in ab]
res['prefill']['alt_x_n_times_c_plus_n_fit']=devs(AX,AY,pa)
# per-chunk-group fit
for lo,hi in [(0,256),(256,1024),(1024,2100),(2100,4097)]:
    res['prefill'][f'fit_chunk_{lo}_{hi}']=devs(PX,PY,[(pairs(n,c),L*t) for n,c,t in pre if lo<=n<hi])
print(json.dumps(res,indent=1))
print(json.dumps(res,indent=1))
