import csv, math, statistics as st, json
import os
exec(open(os.path.join(os.path.dirname(os.path.abspath(__file__)),'derive.py')).read().split('# ---------- decode ----------')[0])
dec=[(int(r['batch']),int(r['kv']),float(r['decode_med'])) for r in csv.DictReader(open(D+'decode.csv'))]
def binned(pts, lo, factor=2.0):
    bins={}
    for x,y in pts:
        i=int(math.floor(math.log(x/lo,factor)+1e-9)); bins.setdefault(i,[]).append((x,y))
    return [(st.median([p[0] for p in bins[i]]), st.median([p[1] for p in bins[i]]), len(bins[i])) for i in sorted(bins)]
main=[(b*k,L*t) for b,k,t in dec if k>=256]
db=binned(main,256)
DX=[int(round(x)) for x,_,_ in db]; DY=[round(y,3) for _,y,_ in db]
out={'decode':{'x':DX,'y':DY,'counts':[n for *_,n in db],
 'fit_kv>=256':devs(DX,DY,main),'fit_all':devs(DX,DY,[(b*k,L*t) for b,k,t in dec]),
 'fit_kv=32':devs(DX,DY,[(b*k,L*t) for b,k,t in dec if k==32]),
 'fit_b>=8_kv>=256':devs(DX,DY,[(b*k,L*t) for b,k,t in dec if k>=256 and b>=8]),
 'fit_b<8_kv>=256':devs(DX,DY,[(b*k,L*t) for b,k,t in dec if k>=256 and b<8])}}
worst=sorted(dec,key=lambda r:-abs(interp(DX,DY,r[0]*r[1])-L*r[2])/(L*r[2]))[:8]
out['decode']['worst']=[(b,k,round(L*t,3),round(interp(DX,DY,b*k),3)) for b,k,t in worst]
# relative least squares per layer t = p*b + q*b*k  (no intercept) and with intercept
def rls(feats):
    X=[[f/t for f in feats(b,k)] for b,k,t in dec]; Y=[1.0]*len(dec)
    m=len(X[0]); A=[[sum(x[i]*x[j] for x in X) for j in range(m)] for i in range(m)]; B=[sum(x[i] for x in X) for i in range(m)]
    for i in range(m):
        for r in range(i+1,m):
            f=A[r][i]/A[i][i]
            for c in range(i,m): A[r][c]-=f*A[i][c]
            B[r]-=f*B[i]
    co=[0]*m
    for i in reversed(range(m)): co[i]=(B[i]-sum(A[i][c]*co[c] for c in range(i+1,m)))/A[i][i]
    rel=sorted(abs(sum(c*f for c,f in zip(co,feats(b,k)))-t)/t for b,k,t in dec)
    return dict(coef=co,median_abs=round(st.median(rel),4),p90_abs=round(rel[int(.9*(len(rel)-1))],4),max_abs=round(rel[-1],4))
out['decode']['rls_b_bk']=rls(lambda b,k:[b,b*k])
out['decode']['rls_1_b_bk']=rls(lambda b,k:[1.0,b,b*k])
# prefill
pre=[(int(r['chunk']),int(r['kv']),float(r['prefill_med'])) for r in csv.DictReader(open(D+'prefill.csv'))]
def pairs(n,c): return n*c+n*(n+1)//2
pp=[(pairs(n,c),L*t) for n,c,t in pre]
pb=binned(pp,2000); PX=[int(round(x)) for x,_,_ in pb]; PY=[round(y,3) for _,y,_ in pb]
worstp=sorted(pre,key=lambda r:-abs(interp(PX,PY,pairs(r[0],r[1]))-L*r[2])/(L*r[2]))[:8]
pa=[(n*(c+n),L*t) for n,c,t in pre]; ab=binned(pa,4096); AX=[int(round(x)) for x,_,_ in ab]; AY=[round(y,3) for _,y,_ in ab]
out['prefill']={'x':PX,'y':PY,'counts':[n for *_,n in pb],'fit':devs(PX,PY,pp),
  'worst':[(n,c,pairs(n,c),round(L*t,3),round(interp(PX,PY,pairs(n,c)),3)) for n,c,t in worstp],
  'alt_x':AX,'alt_y':AY,'alt_fit':devs(AX,AY,pa)}
# linear: also count of rows
out['linear_rows']=sorted(lin.keys())
print(json.dumps(out,indent=1))
print(json.dumps(out))
